"""The feature network (VGG) and its fast forward/backward pass, shared by style transfer and harmonization."""
