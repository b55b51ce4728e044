"""`!hilfe` / `!help`: generated from the registry, filtered by the asker's roles."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.registry import REGISTRY, Arg, ArgumentError, Command, Registry, Section
from bot.domain.roles import Where
from bot.i18n import has
from bot.i18n.render import Rendered, join


def _summary(cmd: Command, ctx: CommandContext) -> Rendered:
    return ctx.text(
        "help.line", usage=cmd.usage(ctx.prefix, ctx.lang), text=ctx.text(cmd.help_key + ".short")
    )


def _entries(cmd: Command) -> list[Command]:
    if cmd.handler is not None or not cmd.subcommands:
        return [cmd]
    unique: list[Command] = []
    for sub in cmd.subcommands.values():
        if sub not in unique:
            unique.append(sub)
    return unique


def overview(ctx: CommandContext, registry: Registry) -> Rendered:
    parts = [ctx.text("help.intro")]
    commands = registry.visible(ctx.roles)
    for section in Section:
        lines = [
            _summary(entry, ctx)
            for cmd in commands
            if cmd.section == section
            for entry in _entries(cmd)
            if entry.allowed(ctx.roles)
        ]
        if lines:
            parts.append(
                ctx.text(f"help.section.{section}") + Rendered("\n", "<br/>") + join(lines)
            )
    parts.append(ctx.text("help.outro"))
    return join(parts, "\n\n")


def details(ctx: CommandContext, cmd: Command) -> Rendered:
    entries = _entries(cmd)
    lines = [_summary(entry, ctx) for entry in entries]
    long_keys = [e.help_key + ".long" for e in entries if has(e.help_key + ".long")]
    parts = [join(lines)] + [ctx.text(k) for k in long_keys]
    names = [n for n in cmd.names() if n != cmd.display_name(ctx.lang)]
    if names:
        parts.append(ctx.text("help.aliases", names=", ".join(ctx.prefix + n for n in names)))
    return join(parts, "\n\n")


def topic_command(registry: Registry, topic: str, prefix: str) -> Command | None:
    """The command `!hilfe <topic>` explains: `kaffee`, `kaffee pause`, `!admin runde`."""
    head, _, rest = topic.strip().removeprefix(prefix).partition(" ")
    cmd = registry.lookup(head)
    sub_word = rest.strip()
    if cmd is None or not sub_word:
        return cmd
    return cmd.subcommands.get(sub_word.casefold()) if " " not in sub_word else None


def usage_error(ctx: CommandContext, exc: ArgumentError) -> Rendered:
    """What went wrong with the person's arguments, named and quoted, with the usage (which
    lists a group's words) and the `!hilfe` topic that explains the command."""
    cmd = exc.command
    arg = exc.arg.usage(ctx.lang) if exc.arg is not None else ""
    # A refused word lists what its argument allows, or else the group's words.
    choices = (exc.arg.choices(ctx.lang) if exc.arg is not None else []) or cmd.choices(ctx.lang)
    reason = ctx.text(
        f"error.arg.{exc.reason}",
        arg=arg,
        given=exc.given,
        command=ctx.prefix + cmd.topic(ctx.lang),
        choices=", ".join(choices),
    )
    return ctx.text(
        "error.usage",
        reason=reason,
        usage=cmd.usage(ctx.prefix, ctx.lang),
        command=cmd.topic(ctx.lang),
    )


@REGISTRY.command(
    "hilfe",
    "help",
    args=(Arg("command", "befehl", "command", kind="rest", optional=True),),
    where=Where.ANY,
)
async def hilfe(ctx: CommandContext, command: str | None) -> None:
    if not command:
        await ctx.reply_rendered(overview(ctx, REGISTRY))
        return
    cmd = topic_command(REGISTRY, command, ctx.prefix)
    if cmd is None or not cmd.allowed(ctx.roles):
        head = command.strip().removeprefix(ctx.prefix).partition(" ")[0]
        suggestions = REGISTRY.suggest(head)
        if not suggestions:
            await ctx.reply("help.unknown_topic_no_guess", topic=command)
            return
        await ctx.reply(
            "help.unknown_topic",
            topic=command,
            suggestions=", ".join(ctx.prefix + s for s in suggestions),
        )
        return
    await ctx.reply_rendered(details(ctx, cmd))
