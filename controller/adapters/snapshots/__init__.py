"""Snapshot providers: CSI VolumeSnapshots, Velero, AWS (RDS, EBS) and Azure managed disks (issue 14)."""
