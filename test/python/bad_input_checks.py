"""What every case of the bad-input corpus (test_bad_inputs.py, test_bad_calls.py)
checks of the message it gets: one `error:` line that says what and where, no traceback."""

import re

VALID = "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n  return %a : tensor<4xf32>\n}\n"


def one_error_line(text: str, where: str = "") -> str:
    """The message's error line, once checked to be the only one (after `where`, a regex);
    indented lines after it may show the context, like a caret under a pipeline's column."""
    lines = text.strip().splitlines()
    assert all(line.startswith(" ") for line in lines[1:]), text
    assert "Traceback" not in text
    assert re.match(rf"^{where}error: \S", lines[0]), lines[0]
    return lines[0]


def count_error_lines(text: str) -> int:
    """Lines that report an error (notes and context lines after one do not count)."""
    return sum(bool(re.match(r"^(\S.*?: )?error: ", line)) and " note: " not in line for line in text.splitlines())


def run_tool(main, argv: list[str], capsys) -> str:
    """Run a command-line tool's main(); check it failed; return its stderr."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code != 0, captured.out
    assert "Traceback" not in captured.err
    return captured.err
