"""The image tasks by name, with one line each (light: the CLI's help reads it without torch)."""

TASK_HELP = {
    "reconstruct": "plain autoencoder: the input is the target",
    "denoise": "noisy image in (gaussian sigma, salt_pepper or masking rate = --noise), clean image out",
    "colorize": "luminance in (RGB images made gray), its chroma predicted, colour image of the exact "
    "luminance out; needs 3-channel data",
    "super_resolve": "image downsampled by --scale-factor (2 or 4) and upsampled back in, full image out; "
    "apply takes the low-resolution image and returns one scale-factor times larger",
    "inpaint": "image with random rectangles blanked in, whole image out",
}
