"""The image tasks by name, with one line each (light: the CLI's help reads it without torch).

This is where the task names are declared, once: :data:`TASKS` (the ``task`` parameter's
values, its CLI choices, the keys of the task objects in :mod:`hourglass.train.tasks`) is read
off :data:`TASK_HELP`.
"""

TASK_HELP = {
    "reconstruct": "plain autoencoder: the input is the target",
    "denoise": "noisy image in (gaussian sigma, salt_pepper or masking rate = --noise), clean image out",
    "colorize": "luminance in (RGB images made gray), its chroma predicted, colour image of the exact "
    "luminance out; needs 3-channel data",
    "super_resolve": "image downsampled by --scale-factor (2 or 4) and upsampled back in, full image out; "
    "apply takes the low-resolution image and returns one scale-factor times larger",
    "inpaint": "image with random rectangles blanked in, whole image out",
}
#: The task names, in the order the help lists them.
TASKS = tuple(TASK_HELP)
