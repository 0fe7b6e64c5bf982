"""Spot likely credentials in uncommitted changes before a run (pure).

The source snapshot must hold the files as they are, so a token in an
uncommitted file does end up in the run store; the user is warned before
the run starts, with the file, line and kind of secret, never its value.
"""
import re

PATTERNS = (
    ('AWS access key id', re.compile(r'\b(AKIA|ASIA)[0-9A-Z]{16}\b')),
    ('AWS secret access key', re.compile(
        r'aws_secret_access_key\s*[=:]\s*["\']?[A-Za-z0-9/+=]{40}', re.IGNORECASE)),
    ('GitHub token', re.compile(r'\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})')),
    ('GitLab token', re.compile(r'\bglpat-[A-Za-z0-9_-]{20,}')),
    ('Slack token', re.compile(r'\bxox[abprs]-[A-Za-z0-9-]{10,}')),
    ('private key', re.compile(r'-----BEGIN [A-Z ]*PRIVATE KEY-----')),
    ('password/token assignment', re.compile(
        r'(api[_-]?key|secret|token|passw(or)?d)\w*\s*[=:]\s*["\'][^"\'\s]{8,}["\']',
        re.IGNORECASE)),
)


def scan_diff(diff):
    """[(path, line number in the new file, kind)] for added lines of a git diff."""
    text = diff.decode('utf-8', 'replace') if isinstance(diff, bytes) else diff
    findings, path, line_no = [], None, 0
    for line in text.splitlines():
        if line.startswith('+++ '):
            path = line[6:] if line.startswith('+++ b/') else line[4:]
        elif line.startswith('@@'):
            match = re.search(r'\+(\d+)', line)
            line_no = int(match.group(1)) - 1 if match else 0
        elif line.startswith('+') and path:
            line_no += 1
            for kind, pattern in PATTERNS:
                if pattern.search(line):
                    findings.append((path, line_no, kind))
                    break
        elif not line.startswith('-'):
            line_no += 1
    return findings
