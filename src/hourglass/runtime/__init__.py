"""Runtime: the process around the model, its device, its threads and the processes it trains with.

The bottom layer beside :mod:`hourglass.data`: every layer above may ask how many processes train
together or how many threads to use, and these modules import nothing of hourglass but its
exceptions.
"""
