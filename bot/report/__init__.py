"""The network report as documents: a summary (Markdown/plain text and HTML), CSV tables and
two PNG charts. Used by the chat (`!admin bericht`, the monthly post) and by the command line
(`flurfunk report --out DIR`), so both show exactly the same.

Everything here reads a `bot.domain.network.NetworkReport`, which holds unit names, sector
names and counts only. Unit names may have been typed by people (free departments), so they
are escaped for HTML, neutralised for spreadsheets (no formulas) and drawn without mathtext.
Labels come from the catalogue (`bot/i18n/report.yaml`) in the requested language.
"""
