"""Data: videos, the Penn Action and pairs layouts, benchmark pairs, clips and the synthetic set."""
