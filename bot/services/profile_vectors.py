"""Profiles as texts to encode: each task phrase and each topic, person-to-person ("query: "
on both sides, the symmetric use of e5), and the same texts as `Document`s for comparing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.domain.phrases import split_tasks
from bot.domain.profile import Profile
from bot.domain.similarity import Document
from bot.services.vectors import SourceText, VectorService, VectorSource
from bot.store.profiles import ProfileRepository

KIND = "profile"


def profile_phrases(profile: Profile) -> tuple[str, ...]:
    return split_tasks(profile.tasks, profile.topics)


def profile_source(repo: ProfileRepository) -> VectorSource:
    async def texts() -> Mapping[str, SourceText]:
        return {p.user_id: SourceText(p.user_id, profile_phrases(p)) for p in await repo.all()}

    return VectorSource(KIND, query=True, texts=texts)


async def profile_documents(vectors: VectorService, profiles: Sequence[Profile]) -> list[Document]:
    """One document per profile, with its stored vectors where they are current."""
    phrases = {p.user_id: profile_phrases(p) for p in profiles}
    stored = await vectors.vectors(KIND, phrases)
    return [
        Document(
            p.tasks or "",
            p.topics,
            phrases[p.user_id],
            stored.get(p.user_id),
        )
        for p in profiles
    ]
