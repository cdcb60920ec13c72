"""Loading the bert / causal_llm routers' Hugging Face checkpoints without unpickling.

* `model.safetensors` (or a sharded `model.safetensors.index.json`): transformers'
  `from_pretrained(..., use_safetensors=True)`, which reads only safetensors files.
* only `pytorch_model.bin` (RouteLLM's older layout): read here with
  `torch.load(weights_only=True)`, which refuses anything but tensors and plain
  containers, then copied into a model built from config.json (`from_config`).
* anything else (a pickle that is not a plain state dict, sharded .bin files, a config
  pointing transformers at another weights file): a BundleError naming the file.

A bundle's `checkpoint` key must name a directory inside the bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BundleError

SAFE_FILES = ("model.safetensors", "model.safetensors.index.json")
TORCH_FILE = "pytorch_model.bin"


def confined_checkpoint(bundle_dir: "str | Path", checkpoint: Any) -> Path:
    """The bundle's checkpoint directory, resolved; a BundleError unless it lies inside the bundle
    (an absolute path, `..` or a symlink out of the bundle would load a model from elsewhere)."""
    root = Path(bundle_dir).resolve()
    if not isinstance(checkpoint, str) or not checkpoint:
        raise BundleError(f"{root}: key 'checkpoint': expected a relative directory name, got {checkpoint!r}")
    target = (root / checkpoint).resolve()
    if Path(checkpoint).is_absolute() or target == root or not target.is_relative_to(root):
        raise BundleError(
            f"{root}: key 'checkpoint': {checkpoint!r} resolves to {target}, outside the bundle; "
            "it must name a directory inside the bundle (e.g. 'hf')"
        )
    return target


def load_model(auto_class: Any, root: Path, what: str, **kwargs: Any) -> Any:
    """`auto_class` (e.g. AutoModelForSequenceClassification) from checkpoint directory `root`."""
    import torch
    import transformers

    config_path = root / "config.json"
    try:
        config = transformers.AutoConfig.from_pretrained(str(root))
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for a bad config
        raise BundleError(f"{config_path}: not a loadable {what} config ({type(exc).__name__}: {exc})") from exc
    explicit = getattr(config, "transformers_weights", None)
    if explicit is not None:
        raise BundleError(
            f"{config_path}: sets transformers_weights={explicit!r}; fastroute loads only "
            f"{' or '.join(SAFE_FILES)} (or {TORCH_FILE} with weights_only=True)"
        )
    try:
        if any((root / name).is_file() for name in SAFE_FILES):
            return auto_class.from_pretrained(str(root), config=config, use_safetensors=True, **kwargs)
        bin_path = root / TORCH_FILE
        if not bin_path.is_file():
            raise BundleError(
                f"{root}: no {' or '.join(SAFE_FILES)} or {TORCH_FILE} (sharded .bin checkpoints "
                "are not read: convert them to safetensors)"
            )
        try:
            state = torch.load(str(bin_path), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, EOFError, ...
            raise BundleError(
                f"{bin_path}: not loadable with torch.load(weights_only=True), so not read "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from exc
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise BundleError(f"{bin_path}: expected a state dict of tensors, got {type(state).__name__}")
        model = auto_class.from_config(config)
        result = model.load_state_dict(state, strict=False)
        tied = getattr(model, "_tied_weights_keys", None) or ()
        missing = sorted(set(result.missing_keys) - set(tied))
        if missing:
            raise BundleError(f"{bin_path}: lacks weights {missing[:10]}{' ...' if len(missing) > 10 else ''}")
        model.tie_weights()
        if kwargs.get("torch_dtype") is not None:
            model = model.to(kwargs["torch_dtype"])
        return model
    except BundleError:
        raise
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, RuntimeError (shape mismatch), ...
        raise BundleError(f"{root}: not a loadable {what} ({type(exc).__name__}: {exc})") from exc
