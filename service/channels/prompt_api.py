"""The spoken prompts over HTTP: audio in each channel's format, recording coverage and
worklists, and the admin uploads that replace synthetic voices with people's."""

from __future__ import annotations

import html
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from service.answers.coverage import coverage_rows, coverage_summary
from service.answers.prompts import CoverageStatus, PromptKind, prompt_texts
from service.answers.recordings import restore_previous, store_recording
from service.answers.tiles import tile_names
from service.answers.transcode import AudioFormat, media_type, transcode
from service.channels.deps import csv_text, get_lookup, require_admin
from service.channels.schemas import ErrorBody
from service.channels.uploads import read_audio_upload
from service.lookup import Lookup
from service.params import LanguagePath, LanguageQuery, PromptIdPath


def _prompt_target(lookup: Lookup, language: str, prompt_id: str) -> tuple[PromptKind, str]:
    """Only known languages and prompt ids are writable (also keeps paths inside the folder)."""
    if lookup.languages.get(language) is None:
        raise HTTPException(404, detail=f"unknown language {language!r}")
    target = prompt_texts(lookup.corpus, lookup.languages, tile_names(lookup.life_events)).get(prompt_id)
    if target is None:
        raise HTTPException(404, detail=f"no procedure or system prompt with prompt_id {prompt_id!r}")
    return target


def _coverage_html(summary: dict[str, dict[str, dict[str, int]]], lookup: Lookup) -> str:
    cells = []
    for code, groups in summary.items():
        lang = lookup.languages.get(code)
        name = html.escape(f"{lang.name_vi} ({lang.name_native})" if lang else code)
        for group in ("essential", "all"):
            g = groups[group]
            cells.append(
                f"<tr><td>{name}</td><td>{group}</td><td>{g['human']}</td>"
                f"<td>{g['synthetic']}</td><td>{g['missing']}</td></tr>"
            )
    return (
        "<!doctype html><html lang=vi><meta charset=utf-8><title>Ghi âm câu trả lời</title>"
        "<h1>Ghi âm câu trả lời theo ngôn ngữ</h1><table border=1 cellpadding=4>"
        "<tr><th>Ngôn ngữ</th><th>Nhóm</th><th>Người đọc</th><th>Giọng máy</th><th>Chưa có</th></tr>"
        + "".join(cells)
        + "</table></html>"
    )


def prompts_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/prompts/coverage", responses={200: {"content": {"text/csv": {}, "text/html": {}}}})
    def prompts_coverage(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        format: Annotated[str, Query(pattern=r"^(json|csv|html)$")] = "json",
    ) -> Response:
        """Per language: answers recorded by a person, synthetic only, or missing; essential first."""
        languages = [lang.code for lang in lookup.languages.enabled()]
        rows = coverage_rows(lookup.prompts, lookup.corpus, languages, tile_names(lookup.life_events))
        if format == "csv":
            header = ["prompt_id", "code", "name", "essential", *languages]
            lines = [
                [r.prompt_id, r.code, r.name, str(r.essential).lower(), *[r.status[x].value for x in languages]]
                for r in rows
            ]
            return Response(csv_text([header, *lines]), media_type="text/csv; charset=utf-8")
        summary = coverage_summary(rows, languages)
        if format == "html":
            return HTMLResponse(_coverage_html(summary, lookup))
        return JSONResponse({"languages": summary, "procedures": len(lookup.corpus.procedures)})

    @router.get("/v1/prompts/worklist", responses={200: {"content": {"text/csv": {}}}})
    def prompts_worklist(
        lookup: Annotated[Lookup, Depends(get_lookup)],
        language: LanguageQuery,
    ) -> Response:
        """What remains to record by a person in `language`, with the Vietnamese text to translate."""
        if lookup.languages.get(language) is None:
            raise HTTPException(404, detail=f"unknown language {language!r}")
        rows = [
            r
            for r in coverage_rows(lookup.prompts, lookup.corpus, [language], tile_names(lookup.life_events))
            if r.status[language] is not CoverageStatus.HUMAN
        ]
        lines = [["prompt_id", "code", "name", "essential", "status", "text_vi"]]
        lines += [
            [r.prompt_id, r.code, r.name, str(r.essential).lower(), r.status[language].value, r.text_vi] for r in rows
        ]
        return Response(
            csv_text(lines),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="worklist-{language}.csv"'},
        )

    @router.get(
        "/v1/prompts/{language}/{prompt_id}",
        response_class=FileResponse,
        responses={404: {"model": ErrorBody}, 200: {"content": {"audio/*": {}}}},
    )
    def prompt_audio(
        request: Request,
        language: LanguagePath,
        prompt_id: PromptIdPath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        format: Annotated[AudioFormat, Query(description="wav16k | opus | mp3 | ulaw8k | slin8k")] = AudioFormat.OPUS,
    ) -> Response:
        """A prompt in the channel's format; the language falls back along the registry's chain."""
        if lookup.languages.get(language) is None:
            raise HTTPException(404, detail=f"unknown language {language!r}")
        resolved = lookup.prompts.resolve(prompt_id, language)
        if resolved is None:
            raise HTTPException(404, detail=f"no recording of {prompt_id!r} in {language} or its fallbacks")
        path = transcode(resolved.path, format, lookup.settings.data_dir / "prompt-cache")
        headers = {
            "X-Prompt-Language": resolved.record.language,
            "X-Prompt-Synthetic": "true" if resolved.record.synthetic else "false",
            "Cache-Control": "public, max-age=86400",
            "ETag": f'"{path.stem}"',  # the cache file is named after the content: a strong tag
        }
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type=media_type(format), headers=headers)

    @router.put(
        "/v1/admin/prompts/{language}/{prompt_id}",
        dependencies=[Depends(require_admin)],
        responses={
            400: {"model": ErrorBody},
            401: {"model": ErrorBody},
            403: {"model": ErrorBody},
            404: {"model": ErrorBody},
            413: {"model": ErrorBody},
            415: {"model": ErrorBody},
        },
    )
    async def upload_prompt(
        request: Request,
        language: LanguagePath,
        prompt_id: PromptIdPath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
        recorded_by: Annotated[str, Query(min_length=1, max_length=100)] = "unknown",
    ) -> dict[str, object]:
        """Upload a human recording (any common format, multipart `audio` or raw body)."""
        kind, text = _prompt_target(lookup, language, prompt_id)
        data, content_type = await read_audio_upload(request, lookup.settings.max_prompt_upload_bytes)
        record = await anyio.to_thread.run_sync(
            partial(
                store_recording,
                lookup.settings.prompts_dir,
                language,
                prompt_id,
                kind,
                text,
                data,
                content_type,
                recorded_by,
            )
        )
        lookup.reload_prompts()
        return record.model_dump()

    @router.delete("/v1/admin/prompts/{language}/{prompt_id}", dependencies=[Depends(require_admin)])
    def delete_prompt(
        language: LanguagePath,
        prompt_id: PromptIdPath,
        lookup: Annotated[Lookup, Depends(get_lookup)],
    ) -> dict[str, object]:
        """Undo the last upload: the previous recording is restored, or the prompt falls back."""
        _prompt_target(lookup, language, prompt_id)
        try:
            restored = restore_previous(lookup.settings.prompts_dir, language, prompt_id)
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc.args[0])) from exc
        lookup.reload_prompts()
        return {"restored": restored.model_dump() if restored else None}

    return router
