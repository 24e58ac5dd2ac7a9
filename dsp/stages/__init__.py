"""The chain's stages, one module each, in signal order.

Every stage module declares:

* ``regions(fs_hz, ...)``: its named state as ``layout.Region``s (sizes as
  functions of the sample rate), in the order of its region-number
  constants;
* named slots of its scalar state (module constants, e.g. ``ENV``);
* ``init(v, ...)``: the initial design, given ``v(name) -> view``;
* ``block(...)``: the per-block kernel (and its sub-kernels);
* ``read(v)``: what the chain's snapshot reports from it (Python side).
"""
