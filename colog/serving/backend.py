"""Helpers shared by the Triton Python-backend models in `triton_models/` (run inside the stub)."""


def instance_device(args: dict) -> str:
    """The torch device of this model instance, from Triton's initialize() arguments."""
    if args.get("model_instance_kind") == "GPU":
        return f"cuda:{args.get('model_instance_device_id', '0')}"
    return "cpu"
