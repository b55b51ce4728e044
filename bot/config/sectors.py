"""Crisis sectors: what a bridge contact may name, and the ten defaults with descriptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema


class Sector(str):
    """A sector a bridge contact may name. It is its name everywhere (compares, hashes and
    prints as the name); `description` says in one line what a crisis staff may need from
    it, and routing by meaning compares requests with the organisation and with each item of it.

    In the config a sector is a plain name or `{name: ..., description: ...}`.
    """

    description: str

    def __new__(cls, name: str, description: str = "") -> Sector:
        sector = super().__new__(cls, " ".join(name.split()))
        sector.description = " ".join(description.split())
        return sector

    @classmethod
    def parse(cls, value: object) -> Sector:
        if isinstance(value, Sector):
            return value
        if isinstance(value, str):
            entry: Mapping[str, object] = {"name": value}
        elif isinstance(value, Mapping):
            entry = value
        else:
            raise PydanticCustomError(
                "sector", "a sector is a name or a mapping with name and description"
            )
        unknown = sorted(str(k) for k in entry if k not in ("name", "description"))
        if unknown:
            raise PydanticCustomError(
                "sector",
                "unknown key {key} in a sector (it has name and description)",
                {"key": unknown[0]},
            )
        name, description = entry.get("name"), entry.get("description", "")
        if not isinstance(name, str) or not name.strip():
            raise PydanticCustomError("sector", "a sector needs a name")
        if not isinstance(description, str) or len(description) > SECTOR_DESCRIPTION_MAX:
            raise PydanticCustomError(
                "sector",
                "a sector's description is one line of text (at most {max} characters)",
                {"max": SECTOR_DESCRIPTION_MAX},
            )
        return cls(name, description)

    def dump(self) -> str | dict[str, str]:
        if not self.description:
            return str(self)
        return {"name": str(self), "description": self.description}

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(cls.dump),
        )


SECTOR_DESCRIPTION_MAX = 400

# The default sectors, each with what a German crisis staff typically needs from it. Routing
# compares a request with "organisation | sector: description" (docs/crisis.md, "Sector
# descriptions").
DEFAULT_SECTORS: tuple[tuple[str, str], ...] = (
    (
        "Soziale Träger",
        "Wohlfahrtsverbände und soziale Dienste: Tafeln, Lebensmittelausgabe, Kleiderkammern, "
        "Ehrenamtliche, Betreuung von Senioren und Pflegebedürftigen",
    ),
    (
        "Migrantenorganisationen",
        "Vereine und Communities von Zugewanderten: Dolmetschen, Übersetzungen, mehrsprachige "
        "Informationen, Zugang zu Geflüchteten",
    ),
    (
        "Wohnungslosenhilfe",
        "Obdachlose und Wohnungslose: Notunterkünfte, Schlafplätze, Wärmestuben, Kältehilfe, "
        "Streetwork, Bahnhofsmission",
    ),
    (
        "Logistik",
        "Transport, Fahrzeuge, Kühlfahrzeuge, LKW, Lagerhallen, Verteilung, Busse, Speditionen",
    ),
    (
        "Veranstaltungswirtschaft",
        "Messen, Hallen, Zelte, Veranstaltungstechnik, Stromaggregate, Absperrgitter, Catering,"
        " Sicherheitsdienste",
    ),
    (
        "Gesundheitswesen",
        "Krankenhäuser, Arztpraxen, Pflegeheime, Apotheken, Rettungsdienst, Impfungen, "
        "medizinisches Personal, Schutzausrüstung",
    ),
    (
        "Wissenschaft",
        "Hochschulen und Forschungsinstitute: Fachleute, Gutachten, Laboranalysen, Daten und "
        "Modellrechnungen",
    ),
    (
        "Wirtschaft",
        "Unternehmen, Handel, Handwerk, Kammern: Material, Baustoffe, Lieferketten, Baufirmen, "
        "Energie- und Wasserversorger",
    ),
    (
        "Religionsgemeinschaften",
        "Kirchen-, Moschee- und jüdische Gemeinden: Räume, Gemeindehäuser, Notfallseelsorge, "
        "Ehrenamtliche",
    ),
    (
        "Nachbarkommune",
        "Benachbarte Städte, Gemeinden und Landkreise: Amtshilfe, Personal, Bauhof, Feuerwehr, "
        "Unterbringung",
    ),
)
