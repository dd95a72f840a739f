"""Feature networks and their weights: DINOv2 ViTs (FD_DINOv2) and the CLIP ViT-L/14-336 image tower (CMMD)."""
