"""The files kscli ships beside its code, built from the code itself.

    python tools/shipped.py --write    regenerate every shipped file
    python tools/shipped.py --check    exit 1 listing the files that differ from a fresh build

A build tool of the repository, not part of the installed package: it imports the
kscli of the Python that runs it (an editable install of this tree while developing).

Shipped files:

- ``completions/kscli.bash``, ``completions/_kscli``, ``completions/kscli.fish``: exactly
  what ``kscli completion SHELL`` prints (click's completion classes);
- ``man/kscli.1`` and one page per command group (``man/kscli-sub.1``, ...), generated
  from the live click command tree. The exit codes come from
  :data:`kscli.domain.errors.EXIT_CODE_MEANINGS` and the environment variables from
  :data:`kscli.paths.ENVIRONMENT`, the same tables the code uses. The pages carry no
  build date, and nothing in them depends on the terminal, so a build is reproducible.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import click

PROG = "kscli"
SHELL_FILES: dict[str, str] = {
    "bash": "completions/kscli.bash",
    "zsh": "completions/_kscli",
    "fish": "completions/kscli.fish",
}
MAN_DIR = "man"
WIDTH = 80  # help is laid out for this width whatever the terminal says

# Where the files live (FILES section). Paths are written with their variables, never
# expanded, so that the page is the same on every machine.
FILES: Sequence[tuple[str, str]] = (
    ("$XDG_DATA_HOME/kscli/kscli.db",
     "The default ledger on Linux and other Unix systems (~/.local/share/kscli/kscli.db "
     "when XDG_DATA_HOME is unset); ~/Library/Application Support/kscli/kscli.db on "
     "macOS; %LOCALAPPDATA%\\kscli\\kscli.db on Windows. --store or KSCLI_STORE picks "
     "another one. kscli creates it on the first command that writes, with mode 0600 in "
     "a folder of mode 0700; a command that only reads never creates it."),
    ("$XDG_DATA_HOME/kscli/signer.json",
     "The vendor's signer (kscli signer): its public keys, current and retired, with "
     "their ids and dates (mode 0600). kscli signer show prints them for customers."),
    ("$XDG_DATA_HOME/kscli/signer-private.json",
     "The private signing keys, only on a machine where no keyring works (mode 0600; "
     "kscli warns the first time). Elsewhere they are in the system keyring."),
    ("LEDGER-wal, LEDGER-shm",
     "The write-ahead log of an SQLite ledger, beside it: part of the ledger while kscli "
     "runs; copy the ledger only when no kscli is running, or use kscli export."),
    ("LEDGER.vN.bak",
     "A copy of the ledger taken before kscli migrated it from schema version N."),
    ("LEDGER.lock",
     "The lock file of a JSON ledger, taken by every command that writes."),
    ("POLICY.toml",
     "A policy file given with --policy or KSCLI_POLICY, replacing the built-in policy "
     "(kscli policy show prints the effective one). It should be writable only by its "
     "owner: kscli doctor fails when others can change the rules."),
    ("share/bash-completion/completions/kscli",
     "Bash completion (completions/kscli.bash in the source tree), under /usr/share, "
     "/usr/local/share or ~/.local/share."),
    ("share/zsh/site-functions/_kscli",
     "Zsh completion (completions/_kscli), in a folder of $fpath."),
    ("share/fish/vendor_completions.d/kscli.fish",
     "Fish completion (completions/kscli.fish), or ~/.config/fish/completions/kscli.fish."),
)

GLOBAL_NOTE = ("Global options go before the command name, as in "
               "`kscli --format json sub list`; every command also takes -h, --help.")


# -- completions --------------------------------------------------------------------------


def completion_files() -> dict[str, str]:
    """The completion scripts, exactly as ``kscli completion SHELL`` prints them."""
    from kscli.cli import cli
    from kscli.cli.shell import completion_source

    return {path: completion_source(cli, shell) for shell, path in SHELL_FILES.items()}


# -- the command tree ---------------------------------------------------------------------


@dataclass
class Node:
    """A command in the tree, with the context click would give it."""

    path: tuple[str, ...]  # ("sub", "add"); () for the root
    command: click.Command
    ctx: click.Context

    @property
    def name(self) -> str:
        return " ".join((PROG, *self.path))

    @property
    def is_group(self) -> bool:
        return isinstance(self.command, click.Group)


class TreeError(Exception):
    """A command listed in the tree cannot be loaded."""


def context(command: click.Command, name: str, parent: click.Context | None = None) -> click.Context:
    """The context click gives a command, laid out for a fixed width.

    The command's own context settings apply (as in ``make_context``): click caches a
    command's help option from the first context it sees, so a context without them
    would change the live command (``-h`` would stop working).
    """
    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **command.context_settings}
    return click.Context(command, info_name=name, parent=parent, **settings)


def root_node() -> Node:
    from kscli.cli import cli

    return Node((), cli, context(cli, PROG))


def children(node: Node) -> list[Node]:
    """The visible subcommands of a group, in the order ``--help`` lists them."""
    if not node.is_group:
        return []
    group = node.command
    assert isinstance(group, click.Group)
    out = []
    for name in group.list_commands(node.ctx):
        try:
            command = group.get_command(node.ctx, name)
        except Exception as exc:  # an unimportable module must stop the build, loudly
            raise TreeError(f"`{node.name} {name}` cannot be loaded: "
                            f"{type(exc).__name__}: {exc}") from exc
        if command is None:
            raise TreeError(f"`{node.name} {name}` is listed but has no command")
        if command.hidden:
            continue
        ctx = context(command, name, node.ctx)
        out.append(Node((*node.path, name), command, ctx))
    return out


def walk(node: Node | None = None) -> Iterator[Node]:
    """Every visible command and group, depth first, the root included."""
    node = node or root_node()
    yield node
    for child in children(node):
        yield from walk(child)


def leaves(node: Node) -> list[Node]:
    """The commands (not groups) under a group, nested groups flattened."""
    out = []
    for child in children(node):
        if child.is_group:
            out.extend(leaves(child))
        else:
            out.append(child)
    return out


# -- help text ----------------------------------------------------------------------------

_EXAMPLE_HEAD = re.compile(r"^Examples?\b\s*(?:\((?P<note>[^)]*)\))?\s*:\s*(?P<rest>.*)$")


@dataclass
class Example:
    note: str  # "a cron reminder", or "" when the help gives none
    lines: list[str]


@dataclass
class Help:
    summary: str  # the first line
    paragraphs: list[tuple[bool, list[str]]]  # (preformatted, lines), summary excluded
    examples: list[Example]


def _paragraphs(text: str) -> list[tuple[bool, list[str]]]:
    out = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.split("\n")
        if lines and lines[0].strip() == "\b":
            out.append((True, [line.rstrip() for line in lines[1:]]))
        elif block.strip():
            out.append((False, [line.strip() for line in lines]))
    return out


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] for line in lines]


def parse_help(command: click.Command) -> Help:
    """A command's help split into its summary, its prose, and its examples."""
    text = (command.help or "").split("\f", 1)[0]
    paragraphs = _paragraphs(text)
    summary = ""
    if paragraphs and not paragraphs[0][0]:
        first = paragraphs.pop(0)[1]
        summary = " ".join(first)
    prose: list[tuple[bool, list[str]]] = []
    examples: list[Example] = []
    for pre, lines in paragraphs + _paragraphs(command.epilog or ""):
        # an example starts a paragraph, or a line inside a preformatted one
        at = next((i for i, text in enumerate(lines)
                   if (pre or i == 0) and _EXAMPLE_HEAD.match(text.strip())), None)
        if at is None:
            prose.append((pre, lines))
            continue
        if at:
            prose.append((pre, lines[:at]))
        head = _EXAMPLE_HEAD.match(lines[at].strip())
        assert head is not None
        body = ([head["rest"]] if head["rest"].strip() else []) + _dedent(lines[at + 1:])
        examples.append(Example((head["note"] or "").strip(), [b for b in body if b.strip()]))
    return Help(summary, prose, examples)


def first_sentence(summary: str) -> str:
    """"Subscriptions: add, list." -> "subscriptions: add, list" (for NAME lines)."""
    text = summary.strip()
    if text.lower().startswith(PROG + ":"):
        text = text[len(PROG) + 1:].strip()
    text = text.rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


# -- roff ---------------------------------------------------------------------------------

_NAMED = {
    "\u2014": r"\(em", "\u2013": r"\(en", "\u2018": r"\(oq", "\u2019": r"\(cq",
    "\u201c": r"\(lq", "\u201d": r"\(rq", "\u00a0": r"\~", "\u2026": "...",
    "\u00a9": r"\(co", "\u00b0": r"\(de", "\u00d7": r"\(mu", "\u20ac": r"\(Eu",
    "\u2192": r"\(->", "\u2022": r"\(bu",
}


def roff(text: str, code: bool = False) -> str:
    """Text for a roff line: backslashes, hyphens, special and non-ASCII characters escaped.

    ``code`` keeps quotes, backquotes, tildes and carets as the ASCII a shell needs.
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append(r"\e")
        elif ch == "-":
            out.append(r"\-")
        elif ch == "~":
            out.append(r"\(ti")
        elif ch == "^":
            out.append(r"\(ha")
        elif ch == "'" and code:
            out.append(r"\(aq")
        elif ch == "`":
            out.append(r"\(ga")
        elif ch == "\t":
            out.append(" ")
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            continue
        elif ord(ch) > 127:
            out.append(r"\[u%04X]" % ord(ch) if ord(ch) <= 0xFFFF else r"\[u%X]" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def prose(text: str) -> str:
    """Running text: `code` spans in bold, the rest escaped."""
    parts = re.split(r"`([^`]+)`", text)
    out = []
    for i, part in enumerate(parts):
        out.append(r"\fB" + roff(part, code=True) + r"\fR" if i % 2 else roff(part))
    return "".join(out)


def line(text: str) -> str:
    """One input line of text: a leading dot, quote or space must not start a request."""
    if text[:1] in (".", "'", " "):
        return r"\&" + text
    return text


def arg(text: str) -> str:
    """A quoted macro argument."""
    return '"' + roff(text).replace('"', r"\(dq") + '"'


class Page:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def request(self, name: str, *args: str) -> None:
        self.lines.append("." + " ".join((name, *args)) if args else "." + name)

    def text(self, escaped: str) -> None:
        if escaped:
            self.lines.append(line(escaped))

    def section(self, title: str) -> None:
        self.request("SH", arg(title))

    def subsection(self, title: str) -> None:
        self.request("SS", arg(title))

    def paragraph(self, escaped: str) -> None:
        self.request("PP")
        self.text(escaped)

    def item(self, tag: str, body: str) -> None:
        self.request("TP")
        self.text(tag)
        self.text(body)

    def code(self, lines: Iterable[str]) -> None:
        self.request("PP")
        self.request("RS", "4")
        self.request("EX")
        for text in lines:
            self.lines.append(line(roff(text, code=True)) if text.strip() else r"\&")
        self.request("EE")
        self.request("RE")

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def _help_paragraphs(page: Page, paragraphs: list[tuple[bool, list[str]]]) -> None:
    for pre, lines in paragraphs:
        if pre:
            page.request("PP")
            page.request("nf")
            for text in _dedent(lines):
                page.lines.append(line(prose(text)) if text.strip() else r"\&")
            page.request("fi")
        else:
            page.paragraph(prose(" ".join(lines)))


# -- options and usage --------------------------------------------------------------------


def _metavar(param: click.Parameter, ctx: click.Context) -> str:
    return param.make_metavar(ctx)


def _option_tag(option: click.Option, ctx: click.Context) -> str:
    names = [r"\fB" + roff(n) + r"\fR" for n in (*option.opts, *option.secondary_opts)]
    tag = ", ".join(names)
    if not option.is_flag and not option.count:
        tag += " " + r"\fI" + roff(_metavar(option, ctx)) + r"\fR"
    return tag


def _argument_help(argument: click.Argument) -> str:
    kind = getattr(argument.type, "kind", None)
    prefix = getattr(argument.type, "prefix", None)
    if kind and prefix:
        return (f"A {kind} id such as {prefix}1001 (the number alone also works); "
                "in a shell it completes from the ledger.")
    if isinstance(argument.type, click.Choice):
        return "One of: " + ", ".join(str(c) for c in argument.type.choices) + "."
    if isinstance(argument.type, click.File):
        return "A file; - reads standard input."
    return ""


def _usage(node: Node, with_globals: bool = True) -> str:
    """``kscli [global options] sub add --vendor TEXT ... [options]`` as roff."""
    parts = [r"\fB" + roff(PROG) + r"\fR"]
    if with_globals:
        parts.append(r"[\fIglobal options\fR]")
    if node.path:
        parts.append(r"\fB" + roff(" ".join(node.path)) + r"\fR")
    command = node.command
    optional = False
    for param in _own_params(node):
        if isinstance(param, click.Option):
            if param.hidden:
                continue
            if param.required:
                parts.append(_option_tag(param, node.ctx).replace(" ", r"\ "))
            else:
                optional = True
    if optional:
        parts.append(r"[\fIoptions\fR]")
    for param in command.get_params(node.ctx):
        if isinstance(param, click.Argument):
            metavar = r"\fI" + roff(_metavar(param, node.ctx)) + r"\fR"
            parts.append(metavar if param.required else f"[{metavar}]")
    if isinstance(command, click.Group):
        parts.append(r"\fIcommand\fR [\fIargs\fR]...")
    return " ".join(parts)


def _own_params(node: Node) -> list[click.Parameter]:
    """The command's parameters without click's help option (the root page lists it once).

    Only click's public API: the option ``get_help_option`` returns, and any option
    spelled with exactly the context's help names (click renames its own help
    parameter between versions, so its ``name`` is no test).
    """
    help_option = node.command.get_help_option(node.ctx)
    names = set(node.ctx.help_option_names)
    return [p for p in node.command.get_params(node.ctx)
            if p is not help_option and not (isinstance(p, click.Option) and p.opts
                                             and set(p.opts + p.secondary_opts) <= names)]


def _params(page: Page, node: Node) -> None:
    for param in node.command.get_params(node.ctx):
        if isinstance(param, click.Argument) and _argument_help(param):
            page.item(r"\fI" + roff(_metavar(param, node.ctx)) + r"\fR", prose(_argument_help(param)))
    for param in _own_params(node):
        if isinstance(param, click.Option) and not param.hidden:
            record = param.get_help_record(node.ctx)
            body = record[1] if record else ""
            body = re.sub(r"\s{2,}\[", " [", body)
            page.item(_option_tag(param, node.ctx), prose(body))


# -- pages --------------------------------------------------------------------------------


def page_name(node: Node) -> str:
    return "-".join((PROG, *node.path))


def _header(page: Page, node: Node) -> None:
    from kscli import __version__

    page.lines.append(r'.\" Generated by `python tools/shipped.py --write` from the kscli command')
    page.lines.append(r'.\" tree; do not edit by hand.')
    page.request("TH", arg(page_name(node).upper()), "1", '""', arg(f"{PROG} {__version__}"),
                 arg("kscli manual"))
    page.section("NAME")
    page.text(roff(page_name(node)) + r" \- " + prose(first_sentence(parse_help(node.command).summary)))


def _exit_status(page: Page) -> None:
    from kscli.domain.errors import EXIT_CODE_MEANINGS, ExitCode

    page.section("EXIT STATUS")
    for code in ExitCode:
        page.item(r"\fB" + str(int(code)) + r"\fR", prose(EXIT_CODE_MEANINGS[code]))


def _environment(page: Page) -> None:
    from kscli.paths import ENVIRONMENT

    page.section("ENVIRONMENT")
    for name, meaning in ENVIRONMENT.items():
        page.item(r"\fB" + roff(name) + r"\fR", prose(meaning))


def _files(page: Page) -> None:
    page.section("FILES")
    for name, meaning in FILES:
        page.item(r"\fI" + roff(name) + r"\fR", prose(meaning))


def _global_options(page: Page, root: Node, lead: str) -> None:
    page.section("OPTIONS")
    page.paragraph(prose(lead))
    _params(page, root)
    names = ", ".join(r"\fB" + roff(n) + r"\fR" for n in root.ctx.help_option_names)
    page.item(names, "Show the help of any command and exit.")


def _see_also(page: Page, groups: list[Node], this: Node) -> None:
    page.section("SEE ALSO")
    names = [page_name(n) for n in [root_node(), *groups] if page_name(n) != page_name(this)]
    for i, name in enumerate(names):
        page.request("BR", roff(name), "(1)" + ("," if i < len(names) - 1 else ""))


def _examples(page: Page, nodes: list[Node]) -> None:
    page.section("EXAMPLES")
    for node in nodes:
        help_ = parse_help(node.command)
        for example in help_.examples:
            lead = example.note or ("For example" if node.is_group else help_.summary.rstrip("."))
            lead = lead[0].upper() + lead[1:] if lead else lead
            page.paragraph(prose(lead + ":"))
            page.code(example.lines)


def _command(page: Page, node: Node) -> None:
    help_ = parse_help(node.command)
    page.subsection(node.name)
    page.paragraph(_usage(node, with_globals=False))
    page.paragraph(prose(help_.summary))
    _help_paragraphs(page, help_.paragraphs)
    if any(not getattr(p, "hidden", False) for p in _own_params(node)):
        _params(page, node)


def root_page(root: Node, groups: list[Node], commands: list[Node]) -> str:
    page = Page()
    _header(page, root)
    help_ = parse_help(root.command)

    page.section("SYNOPSIS")
    page.request("SY", roff(PROG))
    page.text(r"[\fIoptions\fR] \fIcommand\fR [\fIargs\fR]...")
    page.request("YS")
    page.request("SY", roff(PROG))
    page.text(r"\fB\-\-version\fR")
    page.request("YS")

    page.section("DESCRIPTION")
    page.paragraph(r"\fB" + roff(PROG) + r"\fR is " + prose(first_sentence(help_.summary)) + ".")
    _help_paragraphs(page, help_.paragraphs)
    page.paragraph("The commands:")
    for child in children(root):
        summary = prose(parse_help(child.command).summary)
        if child.is_group:
            summary += r" See \fB" + roff(page_name(child)) + r"\fR(1)."
        page.item(r"\fB" + roff(child.path[-1]) + r"\fR", summary)

    if commands:
        page.section("COMMANDS")
        page.paragraph(prose("The commands that belong to no group; each group of commands "
                             "has its own page, listed under SEE ALSO."))
        for node in commands:
            _command(page, node)

    return _closing(page, root, "The global options go before the command name and apply to "
                                "every command.", [root, *commands], groups, root)


def group_page(root: Node, group: Node, groups: list[Node]) -> str:
    page = Page()
    _header(page, group)
    help_ = parse_help(group.command)
    commands = leaves(group)

    page.section("SYNOPSIS")
    for node in commands:
        page.request("SY", roff(PROG))
        page.text(_usage(node).split(" ", 1)[1])
        page.request("YS")

    page.section("DESCRIPTION")
    page.paragraph(prose(help_.summary))
    _help_paragraphs(page, help_.paragraphs)
    page.paragraph(prose(GLOBAL_NOTE))

    page.section("COMMANDS")
    for node in commands:
        _command(page, node)

    return _closing(page, root, "These go before the group name and apply to every command; "
                                f"see {PROG}(1).", [group, *commands], groups, group)


def _closing(page: Page, root: Node, options_note: str, shown: list[Node], groups: list[Node],
             this: Node) -> str:
    """The sections every page ends with, and the page's text."""
    _global_options(page, root, options_note)
    _exit_status(page)
    _environment(page)
    _files(page)
    _examples(page, shown)
    _see_also(page, groups, this)
    return page.render()


def man_files() -> dict[str, str]:
    """Every man page: ``man/kscli.1`` and ``man/kscli-GROUP.1`` per group."""
    root = root_node()
    top = children(root)
    groups = [n for n in top if n.is_group]
    commands = [n for n in top if not n.is_group]
    files = {f"{MAN_DIR}/{page_name(root)}.1": root_page(root, groups, commands)}
    for group in groups:
        files[f"{MAN_DIR}/{page_name(group)}.1"] = group_page(root, group, groups)
    return files


# -- build, check, write ------------------------------------------------------------------


def policy_files() -> dict[str, str]:
    """The built-in policy as JSON (``kscli/default_policy.json``), read by every command
    that needs the policy: JSON's parser is already loaded by then, TOML's would cost
    each write a tenth of a Python start. ``kscli/default_policy.toml`` stays the
    source people read and ``policy show --toml`` prints; the two hold the same data."""
    import json
    import tomllib

    source = repo_root() / "kscli" / "default_policy.toml"
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    return {"kscli/default_policy.json": json.dumps(data, ensure_ascii=False, indent=1) + "\n"}


def build() -> dict[str, str]:
    """Every shipped file (path relative to the repository) and its content."""
    return {**completion_files(), **man_files(), **policy_files()}


def repo_root() -> Path:
    """The repository this script is in (tools/ is one level below it)."""
    return Path(__file__).resolve().parent.parent


def _stale(root: Path, files: dict[str, str]) -> list[str]:
    """Generated-looking files that the build no longer makes (a removed group)."""
    out = []
    folder = root / MAN_DIR
    if folder.is_dir():
        for path in sorted(folder.glob(f"{PROG}*.1")):
            rel = f"{MAN_DIR}/{path.name}"
            if rel not in files:
                out.append(rel)
    return out


def drift(root: Path, files: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(path, why) for every shipped file that differs from a fresh build."""
    files = build() if files is None else files
    out = []
    for rel, content in files.items():
        path = root / rel
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            out.append((rel, "missing"))
            continue
        if current != content:
            out.append((rel, "differs from a fresh build"))
    out.extend((rel, "no longer generated") for rel in _stale(root, files))
    return out


def write(root: Path) -> list[str]:
    """Write every shipped file; returns the paths that changed."""
    files = build()
    changed = []
    for rel, content in files.items():
        path = root / rel
        try:
            if path.read_text(encoding="utf-8") == content:
                continue
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8", newline="\n")
        changed.append(rel)
    for rel in _stale(root, files):
        (root / rel).unlink()
        changed.append(rel)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/shipped.py",
        description="Regenerate or check the completion scripts and man pages kscli ships.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write every shipped file")
    mode.add_argument("--check", action="store_true",
                      help="exit 1 listing the files that differ from a fresh build")
    parser.add_argument("--root", type=Path, default=None,
                        help="the repository to write into or check (default: this source tree)")
    options = parser.parse_args(argv)
    root = options.root or repo_root()
    try:
        if options.write:
            for rel in write(root):
                print(f"wrote {rel}")
            return 0
        problems = drift(root)
    except TreeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for rel, why in problems:
        print(f"{rel}: {why}", file=sys.stderr)
    if problems:
        print("run `python tools/shipped.py --write` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
