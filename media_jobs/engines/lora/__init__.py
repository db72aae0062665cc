"""LoRA training engines: a character's photos in, weights for an identity LoRA out."""
