"""Agent-based adoption of L1 versus L2 designs: vectorized numpy and a Mesa twin."""
