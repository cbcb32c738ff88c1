"""Fetching models from the Hugging Face Hub into its cache, for later offline runs.

`fetch_model` downloads what transformers reads (not other frameworks' weights) and turns the
Hub's multi-line exceptions into one `ModelError` sentence that names the model and says why.
huggingface_hub is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import sys

from ..errors import ModelError

# Weights for other frameworks: transformers with torch never reads them, and they can be GBs.
_OTHER_FRAMEWORKS = [
    "*.h5", "*.msgpack", "*.ot", "*.onnx", "*.onnx_data", "*.tflite", "*.mlmodel",
    "onnx/*", "openvino/*", "coreml/*", "tf_model*", "flax_model*", "rust_model*",
]  # fmt: skip


def fetch_model(model: str, *, revision: str | None = None, progress: bool = False) -> str:
    """Download a Hub model's files for transformers into the Hugging Face cache, or find them
    there, and return the snapshot folder. `revision` is a branch, tag or commit (default: the
    main branch). Where the Hub cannot be reached (one check, `downloads.hub_reachable`), only
    the cache is consulted, so an offline fetch fails at once instead of after the Hub client's
    retries. `progress` shows the download's byte counts on stderr (whatever
    `HF_HUB_DISABLE_PROGRESS_BARS` says, which the CLI sets to keep transformers quiet). Raises
    ModelError with one sentence naming the model and why it failed."""
    from huggingface_hub import HfApi, snapshot_download

    from .downloads import hub_endpoint, hub_reachable, is_cached, load_files

    try:
        if not hub_reachable():
            where = str(snapshot_download(model, revision=revision, local_files_only=True))
            if not is_cached(model, revision=revision):
                # The snapshot folder exists but a load would still need files from the Hub.
                raise ModelError(f"cannot fetch model '{model}': the Hub cannot be reached and it is only "
                                 f"partly in the Hugging Face cache")
            return where
        # The endpoint the reachability check asked (HF_ENDPOINT as it is now).
        endpoint = hub_endpoint()
        try:
            files = HfApi(endpoint=endpoint).list_repo_files(model, revision=revision)
        except Exception:
            files = []  # snapshot_download then says why (no such repo, gated) or uses the cache
        # What a transformers load reads, so the download is the size the plan showed.
        allow = load_files(files) or None
        ignore = list(_OTHER_FRAMEWORKS)
        if any(f.endswith(".safetensors") for f in files):
            # transformers prefers safetensors; the legacy pickles would double the download.
            ignore += ["pytorch_model*.bin", "*.pt"]
        # A plain tqdm class is shown as is; huggingface_hub's own would obey the switch-off.
        bars = _stderr_bar() if progress else None
        return str(snapshot_download(model, revision=revision, allow_patterns=allow, ignore_patterns=ignore,
                                     tqdm_class=bars, endpoint=endpoint))
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot fetch model '{model}': {why_not_fetched(model, exc)}") from exc


def _stderr_bar() -> type:
    from tqdm import tqdm

    class StderrBar(tqdm):  # type: ignore[type-arg]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.setdefault("file", sys.stderr)
            kwargs.setdefault("dynamic_ncols", True)
            super().__init__(*args, **kwargs)

    return StderrBar


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def why_not_fetched(model: str, exc: BaseException) -> str:
    """One clause saying why a model could not be fetched, without the Hub's multi-line prose."""
    from huggingface_hub import errors as hf
    from huggingface_hub import is_offline_mode

    if isinstance(exc, hf.HFValidationError):
        if _looks_like_path(model):
            return "no such local folder, and not a Hub id"
        return "not a valid Hub model id"
    if isinstance(exc, hf.GatedRepoError):
        return "the model is gated: accept its terms on its Hub page and log in (hf auth login)"
    if isinstance(exc, hf.RepositoryNotFoundError):
        return "no such model on the Hub (or it is private: log in with hf auth login)"
    if isinstance(exc, hf.RevisionNotFoundError):
        return "the Hub has no such revision of it"
    if isinstance(exc, hf.LocalEntryNotFoundError | hf.OfflineModeIsEnabled):
        if is_offline_mode():
            return "HF_HUB_OFFLINE is set and it is not in the Hugging Face cache; fetch it where the Hub is reachable"
        return "the Hub cannot be reached and it is not in the Hugging Face cache"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
