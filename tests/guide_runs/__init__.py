"""Standalone training scripts written the way the Flax and Orbax guides write them."""
