"""The docs point at what exists: every relative link, and every tools/ and configs/ file they
name (a moved or renamed file is caught here, not by a reader)."""
import glob
import os.path as osp
import re

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = sorted({osp.join(ROOT, 'README.md'), *glob.glob(osp.join(ROOT, 'docs', '*.md')),
               *glob.glob(osp.join(ROOT, '*', 'README.md')),
               *glob.glob(osp.join(ROOT, 'configs', '*', 'README.md'))})
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
# a whole path: not part of a longer name or of a pattern such as configs/wsss/{recipe}.py
PATH = re.compile(r'(?<![\w/{.-])((?:tools|configs)/[\w./-]+\.(?:py|sh|md))(?![\w{}…-])')


def rel(p):
    return osp.relpath(p, ROOT)


def test_the_docs_are_found():
    names = {rel(p) for p in DOCS}
    assert {'README.md', 'docs/get_started.md', 'docs/data_preparation.md', 'docs/faq.md',
            'docs/reproducing.md', 'configs/wsss/README.md', 'benchmarks/README.md'} <= names


@pytest.mark.parametrize('doc', DOCS, ids=rel)
def test_every_relative_link_and_named_file_exists(doc):
    text = open(doc, encoding='utf-8').read()
    missing = []
    for target in LINK.findall(text):
        if re.match(r'[a-z]+://|#|mailto:', target):
            continue
        path = osp.normpath(osp.join(osp.dirname(doc), target.split('#')[0]))
        if not osp.exists(path):
            missing.append(f'link {target}')
    for path in PATH.findall(text):
        if not osp.exists(osp.join(ROOT, path)):
            missing.append(f'file {path}')
    assert not missing, f'{rel(doc)} names what does not exist: {missing}'
