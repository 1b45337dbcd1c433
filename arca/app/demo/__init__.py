"""``arca demo``: the whole loop on the emulated testbed, side by side with the baseline scalers."""
