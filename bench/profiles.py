"""Deterministic synthetic profiles of German municipal staff, for the matching benchmark.

Every person gets hidden "generator topics" (what they really work on): one or two typical of
their department and often a cross-cutting one. Their task text is written from those topics with
the inflection and compound variety of real profiles ("Fördermittelanträge", "Anträge auf
Fördermittel", "bei Anträgen auf Fördermittel"), and they declare some of them as topic tags,
sometimes in other spelling. The hidden topics are the ground truth for relevance.

`with_vectors` adds what the bot stores for each profile: its phrases and their embedding
vectors from the real model. The phrases come from a small pool, so each distinct phrase is
encoded once and cached on disk (.dev/bench/); 50,000 profiles then cost no encoding at all.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.domain.matching import MatchPerson, PastPair
from bot.domain.phrases import split_tasks

# topic -> (departments where it is typical, "" = cross-cutting; tag label; phrases).
# A phrase is "nominative|dative" or one form for both; "!" marks a whole sentence.
TOPICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "melde": (
        "Bürgeramt",
        "Meldewesen",
        (
            "An- und Abmeldungen|An- und Abmeldungen",
            "das Meldewesen|dem Meldewesen",
            "Meldebescheinigungen",
            "Ummeldungen von Wohnsitzen",
        ),
    ),
    "ausweis": (
        "Bürgeramt",
        "Ausweise",
        (
            "Personalausweise und Reisepässe|Personalausweisen und Reisepässen",
            "Passanträge|Passanträgen",
            "Anträge auf Personalausweise|Anträgen auf Personalausweise",
            "Ausweisdokumente|Ausweisdokumenten",
        ),
    ),
    "termine": (
        "Bürgeramt Ausländerbehörde Standesamt",
        "Terminmanagement",
        (
            "die Terminvergabe|der Terminvergabe",
            "die Online-Terminbuchung|der Online-Terminbuchung",
            "Wartezeiten im Bürgerservice",
            "!Wir wollen die Wartezeiten für Termine verkürzen.",
        ),
    ),
    "gewerbe": (
        "Ordnungsamt Wirtschaftsförderung",
        "Gewerbe",
        (
            "Gewerbeanmeldungen|Gewerbeanmeldungen",
            "Gewerbeanzeigen",
            "Anmeldungen von Gewerbe|Anmeldungen von Gewerbe",
            "das Gewerberecht|dem Gewerberecht",
        ),
    ),
    "verkehr": (
        "Ordnungsamt",
        "Verkehrsüberwachung",
        (
            "die Verkehrsüberwachung|der Verkehrsüberwachung",
            "Bußgeldverfahren|Bußgeldverfahren",
            "die Parkraumüberwachung|der Parkraumüberwachung",
        ),
    ),
    "veranstalt": (
        "Ordnungsamt Kulturamt",
        "Veranstaltungen",
        (
            "Genehmigungen für Veranstaltungen|Genehmigungen für Veranstaltungen",
            "Veranstaltungsgenehmigungen",
            "Sondernutzungen für Straßenfeste",
            "!Ich genehmige Stadtfeste und Märkte.",
        ),
    ),
    "kinderschutz": (
        "Jugendamt",
        "Kinderschutz",
        (
            "den Kinderschutz|dem Kinderschutz",
            "Gefährdungseinschätzungen",
            "Inobhutnahmen",
            "!Ich arbeite im Kinderschutz und bei Inobhutnahmen.",
        ),
    ),
    "kita": (
        "Jugendamt Schulverwaltung",
        "Kita",
        (
            "Kita-Plätze|Kita-Plätzen",
            "die Kitaplatzvergabe|der Kitaplatzvergabe",
            "die Kindertagesbetreuung|der Kindertagesbetreuung",
            "Betreuungsplätze in Kitas|Betreuungsplätzen in Kitas",
        ),
    ),
    "erziehung": (
        "Jugendamt",
        "Hilfen zur Erziehung",
        (
            "Hilfen zur Erziehung",
            "Erziehungshilfen",
            "die Familienberatung|der Familienberatung",
        ),
    ),
    "grundsicherung": (
        "Sozialamt",
        "Grundsicherung",
        (
            "die Grundsicherung im Alter|der Grundsicherung im Alter",
            "Leistungen nach SGB XII|Leistungen nach SGB XII",
            "Sozialhilfeanträge|Sozialhilfeanträgen",
        ),
    ),
    "wohngeld": (
        "Sozialamt",
        "Wohngeld",
        (
            "Wohngeldanträge|Wohngeldanträgen",
            "Anträge auf Wohngeld|Anträgen auf Wohngeld",
            "das Wohngeld|dem Wohngeld",
            "!Ich prüfe Anträge auf Wohngeld.",
        ),
    ),
    "obdach": (
        "Sozialamt Ordnungsamt",
        "Wohnungslosenhilfe",
        (
            "die Obdachlosenunterbringung|der Obdachlosenunterbringung",
            "die Unterbringung von Wohnungslosen|der Unterbringung von Wohnungslosen",
            "Notunterkünfte|Notunterkünften",
        ),
    ),
    "bauantrag": (
        "Bauaufsicht",
        "Bauanträge",
        (
            "Bauanträge|Bauanträgen",
            "Baugenehmigungen",
            "die Genehmigung von Bauvorhaben|der Genehmigung von Bauvorhaben",
            "!Ich genehmige Bauvorhaben und prüfe Bauanträge.",
        ),
    ),
    "wind": (
        "Bauaufsicht Umweltamt Stadtplanung",
        "Windenergie",
        (
            "Windenergieanlagen",
            "Genehmigungen für Windräder|Genehmigungen für Windräder",
            "Bauanträge für Windräder|Bauanträgen für Windräder",
            "Photovoltaik auf Freiflächen",
        ),
    ),
    "bauleit": (
        "Stadtplanung",
        "Bauleitplanung",
        (
            "Bebauungspläne|Bebauungsplänen",
            "die Bauleitplanung|der Bauleitplanung",
            "den Flächennutzungsplan|dem Flächennutzungsplan",
        ),
    ),
    "mobil": (
        "Stadtplanung Tiefbau",
        "Mobilität",
        (
            "den Radverkehr|dem Radverkehr",
            "Mobilitätskonzepte|Mobilitätskonzepten",
            "Radwege|Radwegen",
            "die ÖPNV-Anbindung|der ÖPNV-Anbindung",
        ),
    ),
    "infekt": (
        "Gesundheitsamt",
        "Infektionsschutz",
        (
            "den Infektionsschutz|dem Infektionsschutz",
            "die Kontaktnachverfolgung|der Kontaktnachverfolgung",
            "Meldungen nach dem Infektionsschutzgesetz",
            "Impfaktionen",
        ),
    ),
    "hygiene": (
        "Gesundheitsamt",
        "Hygiene",
        (
            "die Trinkwasserhygiene|der Trinkwasserhygiene",
            "Hygienekontrollen",
            "Begehungen von Gemeinschaftseinrichtungen",
        ),
    ),
    "haushalt": (
        "Kämmerei",
        "Haushalt",
        (
            "die Haushaltsplanung|der Haushaltsplanung",
            "den Haushaltsplan|dem Haushaltsplan",
            "Haushaltsmittel|Haushaltsmitteln",
            "Jahresabschlüsse|Jahresabschlüssen",
        ),
    ),
    "steuer": (
        "Kämmerei",
        "Steuern",
        (
            "die Grundsteuer|der Grundsteuer",
            "die Gewerbesteuer|der Gewerbesteuer",
            "Steuerbescheide|Steuerbescheiden",
            "die Grundsteuerreform|der Grundsteuerreform",
        ),
    ),
    "personal": (
        "Personalamt",
        "Personalgewinnung",
        (
            "die Personalgewinnung|der Personalgewinnung",
            "Stellenausschreibungen",
            "Bewerbungsverfahren",
            "den Fachkräftemangel|dem Fachkräftemangel",
        ),
    ),
    "fortbildung": (
        "Personalamt",
        "Fortbildung",
        (
            "Fortbildungen",
            "die Personalentwicklung|der Personalentwicklung",
            "die Ausbildung von Nachwuchskräften|der Ausbildung von Nachwuchskräften",
            "Auszubildende|Auszubildenden",
        ),
    ),
    "itsec": (
        "IT/Digitalisierung",
        "IT-Sicherheit",
        (
            "die IT-Sicherheit|der IT-Sicherheit",
            "die Informationssicherheit|der Informationssicherheit",
            "den Schutz vor Cyberangriffen|dem Schutz vor Cyberangriffen",
            "Notfallpläne für IT-Ausfälle",
        ),
    ),
    "eakte": (
        "IT/Digitalisierung Hauptamt",
        "E-Akte",
        (
            "die E-Akte|der E-Akte",
            "die Einführung der elektronischen Akte|der Einführung der elektronischen Akte",
            "die digitale Aktenführung|der digitalen Aktenführung",
            "das Dokumentenmanagement|dem Dokumentenmanagement",
        ),
    ),
    "ozg": (
        "IT/Digitalisierung Bürgeramt",
        "Onlinezugangsgesetz",
        (
            "das Onlinezugangsgesetz|dem Onlinezugangsgesetz",
            "Online-Dienste nach dem OZG",
            "Onlineanträge|Onlineanträgen",
            "digitale Antragsverfahren|digitalen Antragsverfahren",
        ),
    ),
    "klima": (
        "Umweltamt",
        "Klimaschutz",
        (
            "den Klimaschutz|dem Klimaschutz",
            "das Klimaschutzkonzept|dem Klimaschutzkonzept",
            "die Klimaanpassung|der Klimaanpassung",
            "den Hitzeschutz|dem Hitzeschutz",
        ),
    ),
    "abfall": (
        "Umweltamt",
        "Abfall",
        (
            "die Abfallwirtschaft|der Abfallwirtschaft",
            "illegale Müllablagerungen|illegalen Müllablagerungen",
            "die Abfallberatung|der Abfallberatung",
        ),
    ),
    "natur": (
        "Umweltamt Grünflächen",
        "Naturschutz",
        (
            "den Naturschutz|dem Naturschutz",
            "Ausgleichsflächen",
            "den Artenschutz|dem Artenschutz",
            "die Baumschutzsatzung|der Baumschutzsatzung",
        ),
    ),
    "schulplan": (
        "Schulverwaltung",
        "Schulentwicklung",
        (
            "die Schulentwicklungsplanung|der Schulentwicklungsplanung",
            "Schulanmeldungen",
            "die Schülerbeförderung|der Schülerbeförderung",
        ),
    ),
    "schulbau": (
        "Schulverwaltung Liegenschaften",
        "Schulbau",
        (
            "Schulsanierungen",
            "den Schulbau|dem Schulbau",
            "den Ganztagsausbau an Grundschulen|dem Ganztagsausbau an Grundschulen",
        ),
    ),
    "standes": (
        "Standesamt",
        "Personenstand",
        (
            "Eheschließungen",
            "Geburtsbeurkundungen",
            "Sterbefälle|Sterbefällen",
            "Personenstandsurkunden",
        ),
    ),
    "aufenthalt": (
        "Ausländerbehörde",
        "Aufenthaltsrecht",
        (
            "Aufenthaltstitel|Aufenthaltstiteln",
            "Aufenthaltserlaubnisse|Aufenthaltserlaubnissen",
            "Einbürgerungen",
            "Einbürgerungsanträge|Einbürgerungsanträgen",
        ),
    ),
    "flucht": (
        "Ausländerbehörde Sozialamt",
        "Geflüchtete",
        (
            "die Unterbringung von Geflüchteten|der Unterbringung von Geflüchteten",
            "Geflüchtete aus der Ukraine|Geflüchteten aus der Ukraine",
            "Integrationskurse|Integrationskursen",
            "Flüchtlingsunterkünfte|Flüchtlingsunterkünften",
        ),
    ),
    "ansiedlung": (
        "Wirtschaftsförderung",
        "Ansiedlung",
        (
            "Unternehmensansiedlungen",
            "Gewerbeflächen",
            "die Gründungsberatung|der Gründungsberatung",
        ),
    ),
    "innenstadt": (
        "Wirtschaftsförderung Stadtplanung",
        "Innenstadt",
        (
            "die Innenstadtentwicklung|der Innenstadtentwicklung",
            "das Leerstandsmanagement|dem Leerstandsmanagement",
            "den Einzelhandel in der Innenstadt|dem Einzelhandel in der Innenstadt",
        ),
    ),
    "kultur": (
        "Kulturamt",
        "Kulturförderung",
        (
            "die Kulturförderung|der Kulturförderung",
            "Förderanträge von Kulturvereinen|Förderanträgen von Kulturvereinen",
            "Museen und Bibliotheken",
        ),
    ),
    "strasse": (
        "Tiefbau",
        "Straßenbau",
        (
            "den Straßenbau|dem Straßenbau",
            "Straßensanierungen",
            "die Baustellenkoordination|der Baustellenkoordination",
            "Brückenprüfungen",
        ),
    ),
    "starkregen": (
        "Tiefbau Umweltamt Feuerwehr",
        "Starkregen",
        (
            "die Starkregenvorsorge|der Starkregenvorsorge",
            "den Hochwasserschutz|dem Hochwasserschutz",
            "die Entwässerung|der Entwässerung",
        ),
    ),
    "gruen": (
        "Grünflächen",
        "Grünpflege",
        (
            "die Grünflächenpflege|der Grünflächenpflege",
            "Baumkontrollen",
            "Spielplätze|Spielplätzen",
            "Friedhöfe|Friedhöfen",
        ),
    ),
    "brand": (
        "Feuerwehr Bauaufsicht",
        "Brandschutz",
        (
            "den vorbeugenden Brandschutz|dem vorbeugenden Brandschutz",
            "Brandschauen",
            "Brandschutzkonzepte|Brandschutzkonzepten",
        ),
    ),
    "kat": (
        "Feuerwehr Ordnungsamt",
        "Katastrophenschutz",
        (
            "den Katastrophenschutz|dem Katastrophenschutz",
            "die Stabsarbeit im Krisenstab|der Stabsarbeit im Krisenstab",
            "die Notfallplanung für Stromausfälle|der Notfallplanung für Stromausfälle",
        ),
    ),
    "recht": (
        "Rechtsamt",
        "Rechtsberatung",
        (
            "Widerspruchsverfahren",
            "Klageverfahren",
            "die Rechtsberatung der Ämter|der Rechtsberatung der Ämter",
            "Satzungen",
        ),
    ),
    "vergabe": (
        "Vergabestelle",
        "Vergabe",
        (
            "Vergabeverfahren",
            "öffentliche Ausschreibungen|öffentlichen Ausschreibungen",
            "das Vergaberecht|dem Vergaberecht",
            "die Vergabe von Aufträgen|der Vergabe von Aufträgen",
        ),
    ),
    "gleich": (
        "Gleichstellung",
        "Gleichstellung",
        (
            "die Gleichstellung|der Gleichstellung",
            "die Vereinbarkeit von Familie und Beruf|der Vereinbarkeit von Familie und Beruf",
            "den Schutz vor Gewalt gegen Frauen|dem Schutz vor Gewalt gegen Frauen",
        ),
    ),
    "wahlen": (
        "Statistik Hauptamt",
        "Wahlen",
        (
            "die Wahlorganisation|der Wahlorganisation",
            "Wahlen",
            "Briefwahlanträge|Briefwahlanträgen",
            "Wahlhelfer|Wahlhelfern",
        ),
    ),
    "statistik": (
        "Statistik",
        "Statistik",
        (
            "die Bevölkerungsstatistik|der Bevölkerungsstatistik",
            "Bevölkerungsprognosen",
            "Datenanalysen",
        ),
    ),
    "gremien": (
        "Hauptamt",
        "Gremienarbeit",
        (
            "den Sitzungsdienst|dem Sitzungsdienst",
            "die Gremienarbeit|der Gremienarbeit",
            "das Ratsinformationssystem|dem Ratsinformationssystem",
        ),
    ),
    "orga": (
        "Hauptamt",
        "Organisation",
        (
            "Organisationsuntersuchungen",
            "die Geschäftsprozessoptimierung|der Geschäftsprozessoptimierung",
            "das Prozessmanagement|dem Prozessmanagement",
        ),
    ),
    "immobilien": (
        "Liegenschaften",
        "Grundstücke",
        (
            "Grundstücksverkäufe|Grundstücksverkäufen",
            "das Erbbaurecht|dem Erbbaurecht",
            "Mietverträge für städtische Gebäude|Mietverträgen für städtische Gebäude",
        ),
    ),
    "energie": (
        "Liegenschaften",
        "Energiemanagement",
        (
            "das Energiemanagement|dem Energiemanagement",
            "die Energieeinsparung in Gebäuden|der Energieeinsparung in Gebäuden",
            "Photovoltaik auf Dächern",
        ),
    ),
    "fuehrerschein": (
        "Bürgeramt",
        "Führerscheine",
        (
            "Führerscheinanträge|Führerscheinanträgen",
            "den Umtausch alter Führerscheine|dem Umtausch alter Führerscheine",
            "Fahrerlaubnisse|Fahrerlaubnissen",
        ),
    ),
    "kfz": (
        "Bürgeramt Ordnungsamt",
        "Kfz-Zulassung",
        (
            "die Kfz-Zulassung|der Kfz-Zulassung",
            "Fahrzeugzulassungen",
            "die internetbasierte Fahrzeugzulassung|der internetbasierten Fahrzeugzulassung",
        ),
    ),
    "fund": (
        "Bürgeramt",
        "Fundbüro",
        (
            "das Fundbüro|dem Fundbüro",
            "Fundsachen",
            "Beglaubigungen",
        ),
    ),
    "hund": (
        "Ordnungsamt",
        "Gefahrenabwehr",
        (
            "gefährliche Hunde|gefährlichen Hunden",
            "die Gefahrenabwehr|der Gefahrenabwehr",
            "Lärmbeschwerden",
            "!Ich gehe Beschwerden über Lärm nach.",
        ),
    ),
    "markt": (
        "Ordnungsamt Wirtschaftsförderung",
        "Märkte",
        (
            "den Wochenmarkt|dem Wochenmarkt",
            "Marktzulassungen",
            "Gaststättenerlaubnisse|Gaststättenerlaubnissen",
        ),
    ),
    "jugendarbeit": (
        "Jugendamt",
        "Jugendarbeit",
        (
            "die offene Jugendarbeit|der offenen Jugendarbeit",
            "Jugendzentren|Jugendzentren",
            "die Jugendsozialarbeit|der Jugendsozialarbeit",
        ),
    ),
    "unterhalt": (
        "Jugendamt",
        "Unterhaltsvorschuss",
        (
            "den Unterhaltsvorschuss|dem Unterhaltsvorschuss",
            "Beistandschaften",
            "Vormundschaften",
        ),
    ),
    "pflege": (
        "Sozialamt",
        "Hilfe zur Pflege",
        (
            "die Hilfe zur Pflege|der Hilfe zur Pflege",
            "die Pflegeberatung|der Pflegeberatung",
            "Heimkosten",
        ),
    ),
    "teilhabe": (
        "Sozialamt",
        "Eingliederungshilfe",
        (
            "die Eingliederungshilfe|der Eingliederungshilfe",
            "Leistungen nach dem Bundesteilhabegesetz",
            "Teilhabeplanung|der Teilhabeplanung",
        ),
    ),
    "bildungspaket": (
        "Sozialamt Jugendamt",
        "Bildung und Teilhabe",
        (
            "Leistungen für Bildung und Teilhabe",
            "das Bildungspaket|dem Bildungspaket",
            "Schulbedarf für Kinder|dem Schulbedarf für Kinder",
        ),
    ),
    "denkmal": (
        "Bauaufsicht Stadtplanung",
        "Denkmalschutz",
        (
            "den Denkmalschutz|dem Denkmalschutz",
            "denkmalrechtliche Genehmigungen|denkmalrechtlichen Genehmigungen",
            "Baudenkmäler|Baudenkmälern",
        ),
    ),
    "abriss": (
        "Bauaufsicht",
        "Bauüberwachung",
        (
            "die Bauüberwachung|der Bauüberwachung",
            "Schwarzbauten",
            "Nutzungsänderungen",
        ),
    ),
    "wohnen": (
        "Stadtplanung Sozialamt",
        "Wohnungsbau",
        (
            "den sozialen Wohnungsbau|dem sozialen Wohnungsbau",
            "Wohnraumförderung|der Wohnraumförderung",
            "bezahlbaren Wohnraum|bezahlbarem Wohnraum",
        ),
    ),
    "sanierung": (
        "Stadtplanung",
        "Stadtsanierung",
        (
            "die Städtebauförderung|der Städtebauförderung",
            "Sanierungsgebiete|Sanierungsgebieten",
            "das Quartiersmanagement|dem Quartiersmanagement",
        ),
    ),
    "sozialpsych": (
        "Gesundheitsamt",
        "Sozialpsychiatrie",
        (
            "den sozialpsychiatrischen Dienst|dem sozialpsychiatrischen Dienst",
            "Krisenintervention|der Krisenintervention",
            "Suchtberatung|der Suchtberatung",
        ),
    ),
    "schuleingang": (
        "Gesundheitsamt Schulverwaltung",
        "Schuleingangsuntersuchung",
        (
            "Schuleingangsuntersuchungen",
            "den kinder- und jugendärztlichen Dienst|dem kinder- und jugendärztlichen Dienst",
            "Impfberatung|der Impfberatung",
        ),
    ),
    "kasse": (
        "Kämmerei",
        "Stadtkasse",
        (
            "die Stadtkasse|der Stadtkasse",
            "Mahnungen",
            "Vollstreckungen",
            "den Zahlungsverkehr|dem Zahlungsverkehr",
        ),
    ),
    "beteiligungen": (
        "Kämmerei",
        "Beteiligungsmanagement",
        (
            "das Beteiligungsmanagement|dem Beteiligungsmanagement",
            "städtische Gesellschaften|städtischen Gesellschaften",
            "Stadtwerke|den Stadtwerken",
        ),
    ),
    "entgelt": (
        "Personalamt",
        "Entgelt",
        (
            "die Entgeltabrechnung|der Entgeltabrechnung",
            "Eingruppierungen",
            "den TVöD|dem TVöD",
            "Beihilfe|der Beihilfe",
        ),
    ),
    "gesundheit_bgm": (
        "Personalamt",
        "Gesundheitsmanagement",
        (
            "das betriebliche Gesundheitsmanagement|dem betrieblichen Gesundheitsmanagement",
            "Gefährdungsbeurteilungen",
            "Arbeitsschutz|dem Arbeitsschutz",
        ),
    ),
    "netz": (
        "IT/Digitalisierung",
        "IT-Infrastruktur",
        (
            "Netzwerke und Server|Netzwerken und Servern",
            "den IT-Support|dem IT-Support",
            "Fachverfahren|Fachverfahren",
            "Videokonferenzsysteme|Videokonferenzsystemen",
        ),
    ),
    "schul_it": (
        "IT/Digitalisierung Schulverwaltung",
        "Schul-IT",
        (
            "die IT-Ausstattung der Schulen|der IT-Ausstattung der Schulen",
            "Tablets für Schulen|Tablets für Schulen",
            "den Digitalpakt Schule|dem Digitalpakt Schule",
        ),
    ),
    "immission": (
        "Umweltamt",
        "Immissionsschutz",
        (
            "den Immissionsschutz|dem Immissionsschutz",
            "Lärmaktionspläne|Lärmaktionsplänen",
            "die Luftreinhaltung|der Luftreinhaltung",
        ),
    ),
    "wasser": (
        "Umweltamt Tiefbau",
        "Gewässer",
        (
            "Gewässerunterhaltung|der Gewässerunterhaltung",
            "Bodenschutz|dem Bodenschutz",
            "Altlasten",
        ),
    ),
    "inklusion_schule": (
        "Schulverwaltung Jugendamt",
        "Schulbegleitung",
        (
            "Schulbegleitungen",
            "die Inklusion an Schulen|der Inklusion an Schulen",
            "Integrationshelfer|Integrationshelfern",
        ),
    ),
    "ganztag": (
        "Schulverwaltung",
        "Ganztag",
        (
            "die Ganztagsbetreuung|der Ganztagsbetreuung",
            "Schulmensen",
            "Betreuungsverträge|Betreuungsverträgen",
        ),
    ),
    "namensrecht": (
        "Standesamt",
        "Namensrecht",
        (
            "Namensänderungen",
            "Kirchenaustritte",
            "Vaterschaftsanerkennungen",
        ),
    ),
    "arbeitsmarkt": (
        "Ausländerbehörde Wirtschaftsförderung",
        "Fachkräfteeinwanderung",
        (
            "die Fachkräfteeinwanderung|der Fachkräfteeinwanderung",
            "Arbeitserlaubnisse|Arbeitserlaubnissen",
            "die Anerkennung ausländischer Abschlüsse|der Anerkennung ausländischer Abschlüsse",
        ),
    ),
    "tourismus": (
        "Wirtschaftsförderung Kulturamt",
        "Tourismus",
        (
            "das Stadtmarketing|dem Stadtmarketing",
            "den Tourismus|dem Tourismus",
            "Messen und Stadtfeste|Messen und Stadtfesten",
        ),
    ),
    "breitband": (
        "Wirtschaftsförderung IT/Digitalisierung",
        "Breitband",
        (
            "den Breitbandausbau|dem Breitbandausbau",
            "Glasfaseranschlüsse|Glasfaseranschlüssen",
            "Mobilfunklücken",
        ),
    ),
    "musikschule": (
        "Kulturamt",
        "Kulturelle Bildung",
        (
            "die Musikschule|der Musikschule",
            "die Volkshochschule|der Volkshochschule",
            "kulturelle Bildung|der kulturellen Bildung",
        ),
    ),
    "beleuchtung": (
        "Tiefbau",
        "Straßenbeleuchtung",
        (
            "die Straßenbeleuchtung|der Straßenbeleuchtung",
            "Ampelanlagen",
            "Winterdienst|dem Winterdienst",
        ),
    ),
    "friedhof": (
        "Grünflächen",
        "Friedhofswesen",
        (
            "das Friedhofswesen|dem Friedhofswesen",
            "Grabstellen",
            "Bestattungen",
        ),
    ),
    "stadtbaum": (
        "Grünflächen Umweltamt",
        "Stadtgrün",
        (
            "Baumpflanzungen",
            "Stadtbäume|Stadtbäumen",
            "Dachbegrünung|der Dachbegrünung",
            "Blühwiesen",
        ),
    ),
    "rettung": (
        "Feuerwehr",
        "Rettungsdienst",
        (
            "den Rettungsdienst|dem Rettungsdienst",
            "die Leitstelle|der Leitstelle",
            "Einsatzplanung|der Einsatzplanung",
        ),
    ),
    "ehrenamt_fw": (
        "Feuerwehr",
        "Freiwillige Feuerwehr",
        (
            "die Freiwillige Feuerwehr|der Freiwilligen Feuerwehr",
            "Nachwuchsgewinnung für das Ehrenamt|der Nachwuchsgewinnung für das Ehrenamt",
            "Feuerwehrgerätehäuser|Feuerwehrgerätehäusern",
        ),
    ),
    "vertrag": (
        "Rechtsamt Vergabestelle Liegenschaften",
        "Verträge",
        (
            "Vertragsprüfungen",
            "städtebauliche Verträge|städtebaulichen Verträgen",
            "Vertragsmanagement|dem Vertragsmanagement",
        ),
    ),
    "versicherung": (
        "Rechtsamt",
        "Versicherungen",
        (
            "Versicherungsangelegenheiten",
            "Schadensfälle|Schadensfällen",
            "Haftungsfragen",
        ),
    ),
    "nachhaltig": (
        "Vergabestelle",
        "Nachhaltige Beschaffung",
        (
            "die nachhaltige Beschaffung|der nachhaltigen Beschaffung",
            "den zentralen Einkauf|dem zentralen Einkauf",
            "Rahmenverträge|Rahmenverträgen",
        ),
    ),
    "chancen": (
        "Gleichstellung Personalamt",
        "Chancengleichheit",
        (
            "den Gleichstellungsplan|dem Gleichstellungsplan",
            "Frauenförderung|der Frauenförderung",
            "Führen in Teilzeit|dem Führen in Teilzeit",
        ),
    ),
    "geodaten": (
        "Statistik Stadtplanung Liegenschaften",
        "Geodaten",
        (
            "Geodaten",
            "das Geoinformationssystem|dem Geoinformationssystem",
            "Stadtkarten|Stadtkarten",
            "Vermessung|der Vermessung",
        ),
    ),
    "umfragen": (
        "Statistik",
        "Umfragen",
        (
            "Bürgerumfragen",
            "den Mietspiegel|dem Mietspiegel",
            "den Zensus|dem Zensus",
        ),
    ),
    "partnerschaft": (
        "Hauptamt",
        "Städtepartnerschaften",
        (
            "Städtepartnerschaften",
            "Repräsentation und Protokoll|Repräsentation und Protokoll",
            "Ehrungen",
        ),
    ),
    "strategie": (
        "Hauptamt",
        "Verwaltungsmodernisierung",
        (
            "die Verwaltungsmodernisierung|der Verwaltungsmodernisierung",
            "Strategieprozesse|Strategieprozessen",
            "Kennzahlen und Controlling|Kennzahlen und Controlling",
        ),
    ),
    "gebaeude": (
        "Liegenschaften",
        "Gebäudemanagement",
        (
            "das Gebäudemanagement|dem Gebäudemanagement",
            "die Bauunterhaltung|der Bauunterhaltung",
            "Hausmeisterdienste|Hausmeisterdiensten",
            "Reinigungsverträge|Reinigungsverträgen",
        ),
    ),
    "digital": (
        "",
        "Digitalisierung",
        (
            "die Digitalisierung der Verwaltung|der Digitalisierung der Verwaltung",
            "Digitalisierungsprojekte|Digitalisierungsprojekten",
            "die digitale Verwaltung|der digitalen Verwaltung",
            "!Wir digitalisieren gerade unsere Abläufe.",
        ),
    ),
    "foerder": (
        "",
        "Fördermittel",
        (
            "Fördermittelanträge|Fördermittelanträgen",
            "Anträge auf Fördermittel|Anträgen auf Fördermittel",
            "Förderanträge|Förderanträgen",
            "Verwendungsnachweise für Fördermittel",
            "!Ich beantrage Fördermittel von Bund und Land.",
        ),
    ),
    "datenschutz": (
        "",
        "Datenschutz",
        (
            "den Datenschutz|dem Datenschutz",
            "Datenschutzfragen",
            "Auskunftsersuchen nach der DSGVO",
            "Verarbeitungsverzeichnisse|Verarbeitungsverzeichnissen",
        ),
    ),
    "beteiligung": (
        "",
        "Bürgerbeteiligung",
        (
            "die Bürgerbeteiligung|der Bürgerbeteiligung",
            "Beteiligungsverfahren",
            "Bürgerversammlungen",
            "die Beteiligung der Öffentlichkeit|der Beteiligung der Öffentlichkeit",
        ),
    ),
    "barrierefrei": (
        "",
        "Barrierefreiheit",
        (
            "die Barrierefreiheit|der Barrierefreiheit",
            "barrierefreie Zugänge|barrierefreien Zugängen",
            "barrierefreie Dokumente|barrierefreien Dokumenten",
        ),
    ),
    "wissen": (
        "",
        "Wissensmanagement",
        (
            "das Wissensmanagement|dem Wissensmanagement",
            "die Einarbeitung neuer Kollegen|der Einarbeitung neuer Kollegen",
            "den Wissenstransfer vor dem Ruhestand|dem Wissenstransfer vor dem Ruhestand",
        ),
    ),
    "sprache": (
        "",
        "Leichte Sprache",
        (
            "Bescheide in Leichter Sprache|Bescheiden in Leichter Sprache",
            "verständliche Bescheide|verständlichen Bescheiden",
            "!Ich schreibe Bescheide verständlicher.",
        ),
    ),
    "beschwerde": (
        "",
        "Beschwerdemanagement",
        (
            "das Beschwerdemanagement|dem Beschwerdemanagement",
            "Bürgeranfragen",
            "Beschwerden von Bürgerinnen und Bürgern",
        ),
    ),
    "projekt": (
        "",
        "Projektmanagement",
        (
            "das Projektmanagement|dem Projektmanagement",
            "die Projektsteuerung|der Projektsteuerung",
            "agile Projekte|agilen Projekten",
        ),
    ),
    "krise": (
        "",
        "Krisenmanagement",
        (
            "das Krisenmanagement|dem Krisenmanagement",
            "die Vorbereitung auf Krisen|der Vorbereitung auf Krisen",
            "Notfallpläne|Notfallplänen",
        ),
    ),
}

DEPARTMENTS = (
    "Bürgeramt",
    "Ordnungsamt",
    "Jugendamt",
    "Sozialamt",
    "Bauaufsicht",
    "Stadtplanung",
    "Gesundheitsamt",
    "Kämmerei",
    "Personalamt",
    "IT/Digitalisierung",
    "Umweltamt",
    "Schulverwaltung",
    "Standesamt",
    "Ausländerbehörde",
    "Wirtschaftsförderung",
    "Kulturamt",
    "Tiefbau",
    "Grünflächen",
    "Feuerwehr",
    "Rechtsamt",
    "Vergabestelle",
    "Gleichstellung",
    "Statistik",
    "Hauptamt",
    "Liegenschaften",
)
MUNICIPALITIES = {
    "Stadt Musterstadt": 30,
    "Landkreis Lindenau": 20,
    "Stadt Neustadt an der Aue": 14,
    "Stadt Bergheim": 10,
    "Gemeinde Altdorf": 6,
    "Stadt Seestadt": 9,
    "Kreisstadt Wiesental": 7,
    "Gemeinde Hohenfeld": 4,
}
NOMINATIVE = (
    "Ich bearbeite {}.",
    "Mein Schwerpunkt sind {}.",
    "Ich kümmere mich um {}.",
    "Zuständig bin ich für {}.",
    "Derzeit beschäftigen mich vor allem {}.",
    "Im Team bearbeiten wir {}.",
    "{}.",
    "Aufgaben: {}.",
    "Ich betreue {}.",
    "Seit Kurzem verantworte ich {}.",
    "Wir organisieren {}.",
    "Ich koordiniere {}.",
)
DATIVE = (
    "Ich unterstütze bei {}.",
    "Viel Erfahrung habe ich mit {}.",
    "Ich arbeite an {}.",
    "Ich helfe Kolleginnen und Kollegen bei {}.",
    "Ich berate zu {}.",
    "Erfahrungen mit {} teile ich gern.",
    "Ansprechpartnerin bin ich bei {}.",
    "Mitgearbeitet habe ich an {}.",
)
FILLER = (
    "Seit einigen Jahren bin ich in der Verwaltung.",
    "Ich arbeite in Teilzeit.",
    "Außerdem vertrete ich die Teamleitung.",
    "Viel Zeit geht in Abstimmungen mit anderen Ämtern.",
    "Gern tausche ich mich mit anderen Kommunen aus.",
    "Vorher war ich in der Privatwirtschaft.",
    "Ich bin neu im Amt.",
    "Ich mag knifflige Fälle.",
    "Ich habe Verwaltungswirtschaft studiert.",
    "Nebenbei bin ich Ersthelferin.",
    "Ich sitze im Personalrat.",
    "Mittwochs arbeite ich im Homeoffice.",
    "Ich bilde auch Auszubildende aus.",
    "Früher war ich im Rathaus am Empfang.",
    "Ich suche Austausch zu guten Beispielen aus anderen Städten.",
    "Ich bin Quereinsteigerin aus der Sozialarbeit.",
    "Ich organisiere unseren Betriebsausflug.",
    "Ich komme aus dem Handwerk.",
)
EXTRA_LANGUAGES = {"en": 0.2, "tr": 0.03, "ar": 0.02, "uk": 0.02, "pl": 0.02, "ru": 0.01}


@dataclass(frozen=True, slots=True)
class Synthetic:
    person: MatchPerson
    truth: frozenset[str]  # hidden generator topics


def _department_topics() -> dict[str, list[str]]:
    typical: dict[str, list[str]] = {d: [] for d in DEPARTMENTS}
    for key, (departments, _, _) in TOPICS.items():
        for d in departments.split():
            typical[d].append(key)
    return typical


def _sentence(rng: random.Random, phrases: tuple[str, ...]) -> str:
    phrase = rng.choice(phrases)
    if phrase.startswith("!"):
        return phrase[1:]
    nominative, _, dative = phrase.partition("|")
    if dative and rng.random() < 0.4:
        return rng.choice(DATIVE).format(dative)
    return rng.choice(NOMINATIVE).format(nominative)


def generate(n: int, seed: int = 1) -> list[Synthetic]:
    rng = random.Random(seed)
    typical = _department_topics()
    cross = [key for key, (departments, _, _) in TOPICS.items() if not departments]
    municipalities = list(MUNICIPALITIES)
    weights = list(MUNICIPALITIES.values())
    people = []
    for pid in range(n):
        department = rng.choice(DEPARTMENTS)
        truth = set(
            rng.sample(typical[department], min(len(typical[department]), rng.choice((1, 2))))
        )
        truth.update(rng.sample(cross, rng.choices((0, 1, 2), (0.3, 0.5, 0.2))[0]))
        sentences = [
            _sentence(rng, TOPICS[t][2])
            for t in sorted(truth)
            for _ in range(rng.choice((1, 1, 2)))
        ]
        sentences += rng.sample(FILLER, rng.choice((0, 1, 1, 2)))
        rng.shuffle(sentences)
        tags = []
        for t in sorted(truth):
            if rng.random() < 0.5:
                label = TOPICS[t][1]
                tags.append(label.lower() if rng.random() < 0.3 else label)
        languages = {"de"} if rng.random() > 0.003 else {"en"}
        languages.update(code for code, p in EXTRA_LANGUAGES.items() if rng.random() < p)
        never = frozenset(rng.sample(range(n), 1)) - {pid} if rng.random() < 0.005 else frozenset()
        since = rng.choices((1, 2, 3, None), (0.8, 0.1, 0.05, 0.05))[0]
        person = MatchPerson(
            id=pid,
            department=department,
            municipality=rng.choices(municipalities, weights)[0],
            tasks=" ".join(sentences),
            topics=tuple(tags),
            languages=frozenset(languages),
            never_with=never,
            rounds_since_last_match=since,
            eligible=True,
        )
        people.append(Synthetic(person, frozenset(truth)))
    return people


def history(people: list[Synthetic], rounds: int, seed: int = 2) -> list[PastPair]:
    """Random earlier rounds, so the repeat ban has pairs to exclude."""
    rng = random.Random(seed)
    ids = [s.person.id for s in people]
    past = []
    for ago in range(1, rounds + 1):
        rng.shuffle(ids)
        past += [PastPair(ids[i], ids[i + 1], ago) for i in range(0, len(ids) - 1, 2)]
    return past


# Topic tags as different people name the same topic, for measuring which topics a circle
# merges (bench/matching.py --meaning). Neighbouring groups are on purpose: "Gewerbe" and
# "Gewerbesteuer", "Terminvergabe" and "Vergabe", "Datenschutz" and "IT-Sicherheit".
TOPIC_NAMES: tuple[tuple[str, ...], ...] = (
    ("Digitalisierung", "Digitalisierung der Verwaltung", "digitale Verwaltung", "E-Government"),
    ("Kita", "Kitas", "Kindertagesstätten", "Kinderbetreuung", "Kita-Plätze"),
    ("E-Akte", "elektronische Akte", "digitale Akte", "eAkte"),
    ("Klimaschutz", "Klimaschutzmanagement", "CO2-Reduktion", "Klimaneutralität"),
    ("Fördermittel", "Fördermittelmanagement", "Förderprogramme", "Zuschüsse und Förderungen"),
    ("Bauleitplanung", "Bebauungspläne", "B-Pläne", "Flächennutzungsplanung"),
    ("Vergabe", "Vergaberecht", "öffentliche Auftragsvergabe", "Ausschreibungen"),
    ("Personalgewinnung", "Recruiting", "Fachkräftegewinnung", "Nachwuchsgewinnung"),
    ("Wohngeld", "Wohngeldstelle", "Mietzuschuss"),
    ("Friedhofswesen", "Friedhöfe", "Friedhofsverwaltung", "Bestattungswesen"),
    ("Datenschutz", "DSGVO", "Datenschutzrecht"),
    ("IT-Sicherheit", "Informationssicherheit", "Cybersicherheit"),
    ("Bürgerbeteiligung", "Beteiligung der Öffentlichkeit", "Partizipation"),
    ("Wahlen", "Wahlorganisation", "Wahlamt"),
    ("Katastrophenschutz", "Bevölkerungsschutz", "Krisenmanagement"),
    ("Gewerbeanmeldung", "Gewerbeamt", "Gewerbewesen"),
    ("Gewerbesteuer", "Gewerbesteuerveranlagung"),
    ("Schulverwaltung", "Schulträgeraufgaben", "Schulen"),
    ("Terminvergabe", "Terminmanagement", "Online-Terminbuchung"),
    ("Haushalt", "Haushaltsplanung", "kommunale Finanzen", "Doppik"),
    ("Integration", "Migration und Integration", "Integrationsarbeit"),
    ("Geflüchtete", "Flüchtlingshilfe", "Asyl"),
    ("Energiemanagement", "Energieeffizienz", "Energiesparen"),
    ("Photovoltaik", "Solarenergie", "PV-Anlagen"),
    ("Leichte Sprache", "verständliche Sprache", "bürgernahe Sprache"),
    ("Wissensmanagement", "Wissenstransfer", "Wissen sichern"),
    ("Projektmanagement", "Projektsteuerung", "Projektleitung"),
    ("Öffentlichkeitsarbeit", "Pressearbeit", "Social Media"),
    ("Radverkehr", "Fahrradverkehr", "Radwege"),
    ("ÖPNV", "Nahverkehr", "Busverkehr"),
)


def paraphrased(n: int, filler: float = 0.0, split: str = "all", seed: int = 5) -> list[Synthetic]:
    """People who list one to three tasks in their own words, as bare task lists, and (with
    probability `filler`) a sentence about themselves; no topic tags. The tasks come from the
    paraphrase pool written before any model was run (bench/data/paraphrase, `split` dev,
    holdout or all: four wordings per task); the hidden topics are its tasks."""
    from bench.semantic import load_topics

    pool = [t for t in load_topics(PARAPHRASE_POOL) if split == "all" or t.split == split]
    rng = random.Random(seed)
    municipalities, weights = list(MUNICIPALITIES), list(MUNICIPALITIES.values())
    people = []
    for pid in range(n):
        tasks = rng.sample(range(len(pool)), rng.choice((1, 2, 2, 3)))
        parts = [rng.choice(pool[t].phrases) for t in tasks]
        if rng.random() < filler:
            parts += [f.rstrip(".") for f in rng.sample(FILLER, rng.choice((1, 2)))]
        rng.shuffle(parts)
        person = MatchPerson(
            id=pid,
            department=rng.choice(DEPARTMENTS),
            municipality=rng.choices(municipalities, weights)[0],
            tasks="; ".join(parts),
            topics=(),
            languages=frozenset({"de"}),
            never_with=frozenset(),
            rounds_since_last_match=1,
            eligible=True,
        )
        people.append(Synthetic(person, frozenset(pool[t].name for t in tasks)))
    return people


CACHE = Path(__file__).resolve().parents[1] / ".dev" / "bench"
PARAPHRASE_POOL = Path(__file__).resolve().parent / "data" / "paraphrase"


def phrase_vectors(phrases: Iterable[str]) -> dict[str, NDArray[np.float32]]:
    """Unit vectors ("query: ", as for profiles) of the phrases, from the on-disk cache; the
    ones not cached yet are encoded with the real model and added to it."""
    from bot.services.encoder import MODEL_ID, load_encoder

    path = CACHE / f"phrases-{MODEL_ID.replace('/', '_')}.npz"
    known: dict[str, NDArray[np.float32]] = {}
    if path.exists():
        with np.load(path) as stored:
            known = dict(zip(stored["phrases"].tolist(), stored["vectors"], strict=True))
    missing = sorted(set(phrases) - set(known))
    if missing:
        encoder = load_encoder()
        if encoder is None:
            raise RuntimeError("the embedding model is needed to encode the benchmark phrases")
        for start in range(0, len(missing), 256):
            batch = missing[start : start + 256]
            known.update(zip(batch, encoder.encode_blocking(batch, query=True), strict=True))
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, phrases=np.array(list(known)), vectors=np.stack(list(known.values())))
    return known


def with_vectors(people: list[Synthetic]) -> list[Synthetic]:
    """The same people with their phrases and phrase vectors, as a round loads them."""
    phrases = [split_tasks(s.person.tasks, s.person.topics) for s in people]
    vectors = phrase_vectors(p for ps in phrases for p in ps)
    return [
        replace(
            s,
            person=replace(
                s.person, phrases=ps, vectors=np.stack([vectors[p] for p in ps]) if ps else None
            ),
        )
        for s, ps in zip(people, phrases, strict=True)
    ]
