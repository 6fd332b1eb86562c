# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Will the host boot the target kernel? GRUB's default entry and newer installed kernels.

This file is shipped to managed Ubuntu 20.04 nodes by the kernel_status module,
so it must run on Python 3.8 with the standard library only. Nothing here reads
files: the module reads them and passes their text in.

The kit installs the target kernel and reboots; it only gets the target back
when grub boots the first menu entry and that entry is the target:

    GRUB_DEFAULT    update-grub (grub-mkconfig) sources /etc/default/grub, then
                    /etc/default/grub.d/*.cfg in order, so a later assignment
                    wins; unset or empty means 0, the first entry. Anything else
                    pins a menu entry ("1>2", or a title such as "Advanced
                    options for Ubuntu>Ubuntu, with Linux 5.4.0-132-generic"), and
                    "saved" boots whatever grub-set-default, grub-reboot or
                    GRUB_SAVEDEFAULT=true last stored in /boot/grub/grubenv.
    newest first    the first entry is the newest installed kernel, whatever its
                    flavour or series (update-grub sorts by version: 5.4.0-1093-aws
                    above 5.4.0-136-generic), so any kernel newer than the target
                    would be booted instead of it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import (
    parse_release,
    release_sort_key,
)

GRUB_DEFAULTS_PATH = "/etc/default/grub"
GRUB_DEFAULT_VARIABLE = "GRUB_DEFAULT"
# grub-mkconfig's 00_header turns an unset or empty GRUB_DEFAULT into 0.
GRUB_FIRST_ENTRY = "0"
GRUB_SAVED = "saved"
TARGET_RELEASE_SETTING = "etcd_kernel_target_release"

_ASSIGNMENT_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Words that may open a command without being its name, so that
# "then GRUB_DEFAULT=1" still counts as an assignment. Conditions are not
# evaluated: an assignment that may run is taken as run, which can only add a
# warning, never hide one.
_LEADING_KEYWORDS = ("!", "{", "do", "elif", "else", "if", "then", "until", "while")
# Builtins whose NAME=value arguments assign in the sourcing shell.
_ASSIGNING_BUILTINS = ("export", "readonly")
_COMMAND_SEPARATORS = ";&|()"
_REDIRECTIONS = "<>"
# Long enough for a full menu entry title, which the operator needs to see.
_SHOWN_CHARACTERS = 200
# The splitter takes runs of ordinary characters at once, up to the next character
# that is not one, rather than one Python step per character: a 1 MB word then
# costs milliseconds, not seconds. Not ordinary: blanks, newlines, separators,
# redirections, quotes, backslashes, backquotes, and $( or ${. ("#" inside a word
# is ordinary: the loop looks for comments before it takes a run.)
_ORDINARY_RUN_END = re.compile(r"[ \t\n;&|()<>'\"\\`]|\$[({]")
_DOUBLE_QUOTED_RUN = re.compile(r'[^"\\]+')
# Backslash-escaped characters other than a newline (a line continuation).
_ESCAPED_RUN = re.compile(r"(?:\\[^\n])+")
# What keep_expansion() looks for, by the character that closes the expansion:
# that character, and the one that opens a nested pair.
_EXPANSION_BRACKETS = {")": re.compile(r"[()]"), "}": re.compile(r"[{}]"), "`": re.compile(r"`")}


class InvalidGrubDefaults(ValueError):
    """Grub defaults text that the shell update-grub runs would not accept, or that is not text."""


class _Word(object):
    """One shell word after quote removal, remembering what was written plainly.

    Its parts are collected in lists and joined once, by finish(): adding to a
    string attribute copies the whole string each time (34 s for a 1 MB word).
    """

    __slots__ = ("line_number", "parts", "plain_parts", "quoting_seen", "text", "plain_start")

    def __init__(self, line_number):
        self.line_number = line_number
        self.parts = []
        # sh takes NAME=value as an assignment only when NAME= is written
        # without quotes or backslashes, so keep the plain start apart.
        self.plain_parts = []
        self.quoting_seen = False
        self.text = None
        self.plain_start = None

    def add(self, characters, quoted):
        if quoted:
            self.quoting_seen = True
        elif not self.quoting_seen:
            self.plain_parts.append(characters)
        self.parts.append(characters)

    def finish(self):
        self.text = "".join(self.parts)
        self.plain_start = "".join(self.plain_parts)
        self.parts = self.plain_parts = None

    def is_plain(self, words):
        return not self.quoting_seen and self.text in words

    def assignment(self):
        """(name, value) when the word is an assignment, else None."""
        match = _ASSIGNMENT_START.match(self.plain_start)
        if match is None:
            return None
        name = match.group(0)[:-1]
        return name, self.text[len(name) + 1:]


class _CommandSplitter(object):
    """Splits sourced shell text into simple commands, as sh does before expanding anything.

    Expansions ($VAR, ${...}, $(...), `...`) are kept as written: the kit does
    not run the file, and a value that uses one is never plainly 0, so it is
    reported (and warned about) as written.
    """

    def __init__(self, text, source):
        self.text = text
        self.source = source
        self.position = 0
        self.line_number = 1
        self.commands = []
        self.words = []
        self.word = None
        self.next_word_is_redirection_target = False

    def split(self):
        """Return the simple commands, each a list of _Word."""
        while self.position < len(self.text):
            character = self.text[self.position]
            if character == "\n":
                self.end_command()
                self.line_number += 1
                self.position += 1
            elif character in " \t":
                self.end_word()
                self.position += 1
            elif character == "#" and self.word is None:
                self.skip_comment()
            elif character in _COMMAND_SEPARATORS:
                self.end_command()
                self.position += 1
            elif character in _REDIRECTIONS:
                # GRUB_DEFAULT=1>2 unquoted assigns 1 and sends output to a
                # file named 2: the target of a redirection is not a word.
                self.end_word()
                self.position += 1
                while self.position < len(self.text) and self.text[self.position] in _REDIRECTIONS + "&|":
                    self.position += 1
                self.next_word_is_redirection_target = True
            elif character == "'":
                self.read_single_quoted()
            elif character == '"':
                self.read_double_quoted()
            elif character == "\\":
                self.read_backslash()
            elif character == "`":
                self.keep_expansion(1, None, "`", "backquoted command")
            elif character == "$" and self.text[self.position + 1:self.position + 2] == "(":
                self.keep_expansion(2, "(", ")", "$( command substitution")
            elif character == "$" and self.text[self.position + 1:self.position + 2] == "{":
                self.keep_expansion(2, "{", "}", "${ expansion")
            else:
                end = _ORDINARY_RUN_END.search(self.text, self.position + 1)
                end = len(self.text) if end is None else end.start()
                self.current_word().add(self.text[self.position:end], quoted=False)
                self.position = end
        self.end_command()
        return self.commands

    def current_word(self):
        if self.word is None:
            self.word = _Word(self.line_number)
        return self.word

    def end_word(self):
        if self.word is None:
            return
        self.word.finish()
        if self.next_word_is_redirection_target:
            self.next_word_is_redirection_target = False
        else:
            self.words.append(self.word)
        self.word = None

    def end_command(self):
        self.end_word()
        if self.words:
            self.commands.append(self.words)
        self.words = []

    def skip_comment(self):
        end = self.text.find("\n", self.position)
        self.position = len(self.text) if end < 0 else end

    def unterminated(self, what, start_line):
        return InvalidGrubDefaults(
            "%s line %d: the %s is never closed; the shell update-grub runs would reject this file "
            "too, so fix it (and run update-grub) before remediating" % (self.source, start_line, what)
        )

    def read_single_quoted(self):
        start_line = self.line_number
        end = self.text.find("'", self.position + 1)
        if end < 0:
            raise self.unterminated("single quote", start_line)
        content = self.text[self.position + 1:end]
        self.line_number += content.count("\n")
        self.current_word().add(content, quoted=True)
        self.position = end + 1

    def read_double_quoted(self):
        start_line = self.line_number
        word = self.current_word()
        word.add("", quoted=True)  # "" is still a word, and quoting
        self.position += 1
        while self.position < len(self.text):
            character = self.text[self.position]
            following = self.text[self.position + 1:self.position + 2]
            if character == '"':
                self.position += 1
                return
            if character == "\\" and following == "\n":
                self.line_number += 1
                self.position += 2
            elif character == "\\" and following in ('"', "\\", "$", "`"):
                word.add(following, quoted=True)
                self.position += 2
            elif character == "\\":
                word.add(character, quoted=True)
                self.position += 1
            else:
                run = _DOUBLE_QUOTED_RUN.match(self.text, self.position)
                self.line_number += run.group(0).count("\n")
                word.add(run.group(0), quoted=True)
                self.position = run.end()
        raise self.unterminated("double quote", start_line)

    def read_backslash(self):
        escaped = _ESCAPED_RUN.match(self.text, self.position)
        if escaped:
            self.current_word().add(escaped.group(0)[1::2], quoted=True)
            self.position = escaped.end()
            return
        if self.text[self.position + 1:self.position + 2] == "\n":  # a line continuation joins the lines
            self.line_number += 1
        else:  # a backslash at the very end stays
            self.current_word().add("\\", quoted=True)
        self.position += 2

    def keep_expansion(self, opening_length, nesting, closing, what):
        """Keep an expansion as written, up to its closing character; nesting counts inner pairs."""
        start_line = self.line_number
        depth = 0
        for bracket in _EXPANSION_BRACKETS[closing].finditer(self.text, self.position + opening_length):
            if bracket.group(0) == nesting:
                depth += 1
            elif depth > 0:
                depth -= 1
            else:
                written = self.text[self.position:bracket.end()]
                self.line_number += written.count("\n")
                self.current_word().add(written, quoted=True)
                self.position = bracket.end()
                return
        raise self.unterminated(what, start_line)


def _shown(value):
    """repr() of value, cut short: a warning must stay readable."""
    text = repr(value)
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    return "%s... (%d characters)" % (text[:_SHOWN_CHARACTERS], len(text))


_UNSET = object()


def _grub_default_change(words):
    """What one simple command does to GRUB_DEFAULT.

    None when it leaves it alone, _UNSET for "unset GRUB_DEFAULT", else the
    assigning word (the last one, should a command assign it twice).
    """
    # Counted, then cut once: cutting one word at a time copies the rest each time.
    keywords = 0
    while keywords < len(words) and words[keywords].is_plain(_LEADING_KEYWORDS):
        keywords += 1
    words = words[keywords:]
    if not words:
        return None
    if words[0].is_plain(("unset",)):
        return _UNSET if any(word.text == GRUB_DEFAULT_VARIABLE for word in words[1:]) else None
    if words[0].is_plain(_ASSIGNING_BUILTINS):
        words = words[1:]
    elif any(word.assignment() is None for word in words):
        # NAME=value before a command only sets it for that command.
        return None
    assigning = [word for word in words
                 if word.assignment() is not None and word.assignment()[0] == GRUB_DEFAULT_VARIABLE]
    return assigning[-1] if assigning else None


def grub_default_assignment(sources):
    """The effective GRUB_DEFAULT of grub defaults files, and where it is set.

    sources: (name, text) pairs in the order update-grub sources them, the
    defaults file first, then its .d/*.cfg files sorted; name is how messages
    refer to the file, usually its path. Returns (value, where): value is
    GRUB_DEFAULT as a string, "0" when no file sets it (or sets it empty, as
    grub-mkconfig reads that); where is "<name> line <n>" of the assignment
    that wins, or None when none does. Raises InvalidGrubDefaults (a
    ValueError) for non-text input and for quotes or expansions never closed.
    """
    if isinstance(sources, (str, bytes)) or not isinstance(sources, (list, tuple)):
        raise InvalidGrubDefaults(
            "expected a list of (name, text) pairs of grub defaults files, got %s %s"
            % (type(sources).__name__, _shown(sources))
        )
    value, where = None, None
    for index, source in enumerate(sources):
        if not (isinstance(source, (list, tuple)) and len(source) == 2
                and isinstance(source[0], str) and isinstance(source[1], str)):
            raise InvalidGrubDefaults(
                "grub defaults source #%d must be a (name, text) pair of strings, got %s %s"
                % (index, type(source).__name__, _shown(source))
            )
        name, text = source
        for words in _CommandSplitter(text, name).split():
            change = _grub_default_change(words)
            if change is _UNSET:
                value, where = None, None
            elif change is not None:
                value, where = change.assignment()[1], "%s line %d" % (name, change.line_number)
    if not value:
        return GRUB_FIRST_ENTRY, where
    return value, where


def grub_default(texts):
    """The effective GRUB_DEFAULT of the texts of /etc/default/grub and then /etc/default/grub.d/*.cfg.

    Later assignments win, as they do when update-grub sources the files;
    "0" when none sets it. Messages name the texts "grub defaults text #<n>";
    use grub_default_assignment() to have them named by path and to learn
    which assignment won. Raises InvalidGrubDefaults (a ValueError) for
    non-text input and unclosed quotes.
    """
    if isinstance(texts, (str, bytes)) or not isinstance(texts, (list, tuple)):
        raise InvalidGrubDefaults(
            "expected a list of grub defaults file contents, defaults file first, got %s %s"
            % (type(texts).__name__, _shown(texts))
        )
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidGrubDefaults(
                "grub defaults text #%d must be a string, got %s %s" % (index, type(text).__name__, _shown(text))
            )
    named = [("grub defaults text #%d" % index, text) for index, text in enumerate(texts)]
    return grub_default_assignment(named)[0]


def _entry_boots_release(entry, release):
    """True when a GRUB_DEFAULT title or id names release's normal (not recovery) menu entry.

    Titles end in the release ("Advanced options for Ubuntu>Ubuntu, with Linux
    5.4.0-136-generic"; the words before it are translated, so only the end is
    checked), recovery entries add a suffix after it, and ids look like
    gnulinux-5.4.0-136-generic-advanced-<uuid>.
    """
    last_entry = entry.rsplit(">", 1)[-1].strip()
    if re.search(r"(?:^|[\s,])%s$" % re.escape(release), last_entry):
        return True
    return last_entry.startswith("gnulinux-%s-advanced-" % release)


def boot_warnings(grub_default_value, running, installed_releases, target_release,
                  grub_default_where=GRUB_DEFAULTS_PATH):
    """Why the host may not come back on target_release after the kit's reboot.

    grub_default_value: the effective GRUB_DEFAULT (see grub_default()).
    running: the running release. installed_releases: the installed releases.
    target_release: the release the kit will install and boot; None or "" means
    there is no target, and a target equal to the running release needs no
    reboot, so both give no warnings. grub_default_where: where GRUB_DEFAULT is
    set, quoted in the warnings.

    Returns a list of warnings, each saying what to do; empty when grub will
    boot the target. A GRUB_DEFAULT that pins the target's own entry is fine.
    Raises ValueError for non-string or malformed input (InvalidKernelRelease
    for releases).
    """
    if not isinstance(grub_default_value, str):
        raise InvalidGrubDefaults(
            "the GRUB_DEFAULT value must be a string such as \"0\" or \"saved\", got %s %s"
            % (type(grub_default_value).__name__, _shown(grub_default_value))
        )
    if not isinstance(grub_default_where, str):
        raise ValueError("grub_default_where must be a string such as %r, got %s %s"
                         % (GRUB_DEFAULTS_PATH, type(grub_default_where).__name__, _shown(grub_default_where)))
    if isinstance(installed_releases, (str, bytes)) or not isinstance(installed_releases, (list, tuple)):
        raise ValueError("installed_releases must be a list of releases such as [\"5.4.0-132-generic\"], got %s %s"
                         % (type(installed_releases).__name__, _shown(installed_releases)))
    running = parse_release(running)
    installed = [parse_release(release) for release in installed_releases]
    if target_release is None or target_release == "":
        return []
    target = parse_release(target_release)
    if target == running:
        return []

    if grub_default_value == GRUB_SAVED:
        return [
            "GRUB_DEFAULT=saved in %s: grub boots the entry last stored by grub-set-default, grub-reboot or "
            "GRUB_SAVEDEFAULT=true, which may not be %s; run grub-set-default 0 (the first entry, the newest "
            "kernel), or set GRUB_DEFAULT=0 and run update-grub, before remediating"
            % (grub_default_where, target.release)
        ] + _newer_installed_warnings(installed, target)
    if grub_default_value not in ("", GRUB_FIRST_ENTRY):
        if _entry_boots_release(grub_default_value, target.release):
            # Pinned to the target itself: grub boots it whatever else is installed.
            return []
        return [
            "GRUB_DEFAULT is pinned to %s in %s: the host may boot that entry instead of %s; set "
            "GRUB_DEFAULT=0 and run update-grub, or pin the target's entry, before remediating"
            % (_shown(grub_default_value), grub_default_where, target.release)
        ] + _newer_installed_warnings(installed, target)
    return _newer_installed_warnings(installed, target)


def _newer_installed_warnings(installed, target):
    # update-grub puts the highest version first whatever its flavour or series
    # (5.4.0-1093-aws sorts above 5.4.0-136-generic), so every newer image counts.
    newer = sorted(
        (release for release in set(installed) if release_sort_key(release) > release_sort_key(target)),
        key=release_sort_key,
    )
    if not newer:
        return []
    newest = newer[-1].release
    if len(newer) == 1:
        return [
            "%s is installed and newer than the target %s: grub boots the newest, so the host would come "
            "back on it and the kit would stop after the reboot; pin %s to %s or remove it"
            % (newest, target.release, TARGET_RELEASE_SETTING, newest)
        ]
    listed = ", ".join(release.release for release in newer[:-1]) + " and " + newest
    return [
        "%s are installed and newer than the target %s: grub boots the newest, so the host would come "
        "back on %s and the kit would stop after the reboot; pin %s to %s or remove them"
        % (listed, target.release, newest, TARGET_RELEASE_SETTING, newest)
    ]
