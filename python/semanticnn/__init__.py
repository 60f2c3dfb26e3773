# SPDX-License-Identifier: GPL-3.0-or-later
"""SemanticNN: compressive, error-resilient semantic offloading from weak devices.

The library never imports GNU Radio, so training, evaluation and the bit
channel run wherever PyTorch runs.
"""

__version__ = "0.1.0"
