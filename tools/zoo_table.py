"""Builds the README's zoo tables from the published cards (kgan.zoo.table).

    python tools/zoo_table.py             # prints the tables
    python tools/zoo_table.py --write     # rewrites the README's zoo-table block
    python tools/zoo_table.py --check     # exit status 1 when the README's block is stale

Run ``--write`` after publishing or re-measuring an entry; tests/test_readme.py fails while
the README's block differs from the cards.
"""

import sys
from pathlib import Path

from absl import app, flags

from kgan.zoo import table

FLAGS = flags.FLAGS
flags.DEFINE_boolean("write", False, "Rewrite the block between the README's markers.")
flags.DEFINE_boolean("check", False, "Exit with status 1 when the README's block is stale.")
flags.DEFINE_string("readme", str(Path(__file__).resolve().parents[1] / "README.md"),
                    "The README holding the zoo-table markers.")


def main(argv):
    del argv
    if FLAGS.write:
        changed = table.update_readme(FLAGS.readme)
        print(f"{FLAGS.readme}: {'updated' if changed else 'already up to date'}")
    elif FLAGS.check:
        if table.readme_table(Path(FLAGS.readme).read_text()) != table.readme_block():
            print(f"{FLAGS.readme}: the zoo table is stale; run "
                  "python tools/zoo_table.py --write", file=sys.stderr)
            return 1
        print(f"{FLAGS.readme}: the zoo table matches the cards")
    else:
        print(table.readme_block())
    return 0


if __name__ == "__main__":
    app.run(main)
