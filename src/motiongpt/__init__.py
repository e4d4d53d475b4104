"""motiongpt: human motion as a foreign language.

One language model reads and writes text and motion; motion is written with discrete tokens from a
VQ-VAE over the HumanML3D 263-dim representation.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
