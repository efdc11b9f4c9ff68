"""Generation methods of :class:`~sk_safesynth.DPSyntheticSampler` and their shared parts."""
