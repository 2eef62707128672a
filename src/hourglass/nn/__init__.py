"""Building blocks: layers, bottlenecks and the builders that assemble them by name."""

from hourglass.nn.activations import make_activation
from hourglass.nn.bottleneck import IdentityBottleneck

__all__ = ["make_activation", "IdentityBottleneck"]
