"""Pack each image's CAMs and saliency map into one file.

    python tools/pack_maps.py --cam-dir DIR --out-dir OUT
        (--cls-label-file FILE | --ann-file LIST) [--cam-format bed_png|npz|npy_dict]
        [--sal-dir DIR] [--compress lz4|zlib|lzma|bz2|none] [--level N] [--quantize]
        [--allow-pickle] [--nproc N] [--force]

Writes ``OUT/<img_id>.maps`` (``cam_format='packed'``): the saliency map and
the CAMs as uint8 behind a small header (magic, version, size, class ids),
read by ``SaliencyPseudoLabel(cam_dir=OUT, cam_format='packed', sal_dir=None)``
at the cost of one lz4 decode instead of one PNG decode per map. ``--compress``
(default lz4, level 9) stores each map's box of non-fill pixels, lz4-compressed:
1.6–1.9× the bytes of WSSS-BED's PNGs, and on the fly 0.98–0.99× the time of
precomputed label PNGs (``benchmarks/README.md``). ``--compress zlib`` (rows as
differences, deflated) is smaller than the PNGs (0.8–0.9×) and 1.01–1.11× the
time; ``--compress none`` writes the uncompressed version 1 file, (K + 1)·H·W
bytes, 5–23× the PNGs: the fastest (0.97×), where the disk and the page cache
hold it. The labels are
those of the source store bit for bit: CAMs are packed as stored (uint8 PNG or
npz values); float CAMs are refused unless ``--quantize`` (round(255·cam)).
A packed store is never the default: WSSS-BED's PNGs stay the input of record.

The run ends with the bytes on disk per image and in total, the pack's and its
source files' (CAM files + saliency PNG). The source's format is the one its
``meta.json`` records (tools/make_cams.py writes it), else ``bed_png``
(WSSS-BED's released maps have none), or ``--cam-format``; a folder without a
file of that format is refused with the ``--cam-format`` its files suggest.

Images: ``--cls-label-file`` (WSSS-BED list, ``<img_id> <c> ...``) packs exactly
the listed classes of each image; ``--ann-file`` (one id a line) packs every
class the store holds for the image. Resumable: images already packed are
skipped, unless their source CAMs or saliency map changed since (``meta.json``
records each pack's source files with their size and mtime, ``sources``, and
the readers name a stale pack). ``OUT/meta.json`` records the settings and the
images; a rerun with other settings or images stops unless ``--force``, which
repacks every image and removes the packs of images no longer listed. One run at a time writes
into ``OUT`` (a lock).
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import sys
from functools import partial

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
from mmwsss.errors import WSSSInputError  # noqa: E402
from mmwsss.fileio import CAMStore, parse_cls_label_file, read_id_list  # noqa: E402
from mmwsss.fileio.cam_store import (check_store_format, pack_image,  # noqa: E402
                                     files_signature, read_store_record,
                                     recorded_cam_format, source_files)
from mmwsss.fileio.packed_maps import (DEFAULT_LEVEL, SUFFIX, VERSION,  # noqa: E402
                                       VERSION_COMPRESSED, Codec, check_codec, packed_path)
from mmwsss.outputs import (OutputLock, check_outside_inputs, file_fingerprint,  # noqa
                            guard_output_dir, is_done, refuse_launcher)
from mmwsss.parallel import track_parallel


def parse_args(argv=None):
    from mmwsss.cli import DefaultsHelpFormatter, nonneg_int, positive_int
    p = argparse.ArgumentParser(formatter_class=DefaultsHelpFormatter,
                                description='Pack CAMs + saliency maps, one file per image')
    p.add_argument('--cam-dir', required=True, help='source CAM store folder')
    p.add_argument('--cam-format', choices=('bed_png', 'npz', 'npy_dict'),
                   help='format of the source store (default: the one CAM_DIR/meta.json '
                   "records, as tools/make_cams.py writes it, else bed_png, WSSS-BED's)")
    p.add_argument('--sal-dir', help='folder of <img_id>.png saliency maps to pack beside '
                   'the CAMs (needed for mode saliency)')
    p.add_argument('--out-dir', required=True, help='folder for <img_id>.maps')
    images = p.add_mutually_exclusive_group(required=True)
    images.add_argument('--cls-label-file',
                        help='WSSS-BED list: pack exactly these classes of these images')
    images.add_argument('--ann-file', help='image id list: pack every class the store holds')
    p.add_argument('--compress', default='lz4', choices=('lz4', 'zlib', 'lzma', 'bz2', 'none'),
                   help='codec of the packs; lz4: 1.6-1.9x the bytes of the PNGs, as fast '
                   'on the fly as precomputed labels; zlib: 0.8-0.9x the bytes, 1-11%% slower; '
                   'none: uncompressed (version 1), 5-23x the bytes, the fastest '
                   '(benchmarks/README.md)')
    p.add_argument('--level', type=nonneg_int,
                   help='codec level (default lz4 9, zlib 6, lzma 6, bz2 9)')
    p.add_argument('--quantize', action='store_true',
                   help='pack float CAMs as round(255·cam) (labels can then differ from '
                   "the float store's)")
    p.add_argument('--allow-pickle', action='store_true',
                   help='read an npy_dict store (pickles run code: trusted files only)')
    p.add_argument('--nproc', type=positive_int, default=1, help='worker processes')
    p.add_argument('--force', action='store_true',
                   help='repack every image, also when the settings or images changed, and '
                   'remove the packs of images no longer listed')
    args = p.parse_args(argv)
    recorded = recorded_cam_format(args.cam_dir)
    if recorded == 'packed':
        p.error(f'{args.cam_dir} is a packed store already (its meta.json says so): pack its '
                'source store instead')
    if args.cam_format is not None and recorded not in (None, args.cam_format):
        p.error(f'--cam-format {args.cam_format}, but {args.cam_dir}/meta.json records '
                f'{recorded} (leave --cam-format out to use it)')
    args.cam_format = args.cam_format or recorded or 'bed_png'
    args.compress = None if args.compress == 'none' else args.compress
    try:
        check_codec(args.compress, args.level)
    except ValueError as e:
        p.error(f'--compress / --level: {e}')
    if args.compress is not None and args.level is None:
        args.level = DEFAULT_LEVEL[args.compress]
    return args


_JOB = {}
_STORE_SUFFIXES = ('.png', '.npz', '.npy')  # files of the stores a pack is made from


def refuse_other_store(out_dir: str) -> None:
    """Refuse an output folder that holds another store (a ``make_cams`` store,
    whose ``meta.json`` records its checkpoint, or WSSS-BED PNGs), with or
    without ``--force``: the packs and their ``meta.json`` would be written
    among its files, and ``--force`` would replace its record."""
    try:
        record = read_store_record(out_dir) if osp.isdir(out_dir) else None
    except WSSSInputError:  # a damaged meta.json: guard_output_dir names it
        record = None
    if record is not None and record.get('cam_format') != 'packed':
        what = f"a {record['cam_format']} CAM store" if record.get('cam_format') else \
            "another tool's outputs"
        raise SystemExit(f'--out-dir {out_dir} holds {what} (its meta.json records them), not '
                         'a packed store: pack into another folder (--force does not change '
                         'this)')
    found = sorted(n for n in (os.listdir(out_dir) if osp.isdir(out_dir) else ())
                   if n.endswith(_STORE_SUFFIXES))
    if found:
        raise SystemExit(f'--out-dir {out_dir} holds {len(found)} map file(s) of another store '
                         f'({found[0]}...): pack into another folder (--force does not change '
                         'this)')


def _init(store, sal_dir, quantize, compress=None, level=None):
    _JOB.update(store=store, sal_dir=sal_dir, quantize=quantize, compress=compress,
                level=level)


def _sal_path(sal_dir, img_id):
    return None if sal_dir is None else osp.join(sal_dir, img_id + '.png')


def _pack(job):
    img_id, classes, path, _ = job
    sal = _sal_path(_JOB['sal_dir'], img_id)
    return pack_image(_JOB['store'], img_id, path, classes, sal, _JOB['quantize'],
                      Codec(_JOB['compress'], _JOB['level']))


def _recorded_sources(out_dir):
    """The source files each pack in ``out_dir`` was made from, as
    ``meta.json`` records them ({} when it records none)."""
    try:
        with open(osp.join(out_dir, 'meta.json'), encoding='utf-8') as f:
            sources = json.load(f).get('sources')
    except (OSError, ValueError, AttributeError):
        return {}
    return sources if isinstance(sources, dict) else {}


def _images_digest(images):
    h = hashlib.sha256()
    for img_id, cls in images:
        h.update(f"{img_id}\0{'*' if cls is None else ' '.join(map(str, cls))}\n".encode())
    return h.hexdigest()


def size_report(out_dir, images, sources) -> str:
    """The bytes on disk of the listed images' packs and of their source
    files (the CAM files and the saliency PNG), per image and in total."""
    packed = sum(os.path.getsize(packed_path(out_dir, img_id)) for img_id, _ in images)
    source = sum(size or 0 for sig in sources for _, size, _ in sig)
    n = max(len(images), 1)

    def fmt(b):
        return f'{b / n / 1024:.1f} KiB an image, {b / 2**20:.1f} MiB in all'

    return (f'size on disk: packed {fmt(packed)}; source (CAM files + saliency PNGs) '
            f'{fmt(source)}; packed / source {packed / max(source, 1):.2f}')


def main(argv=None):
    args = parse_args(argv)
    refuse_launcher('pack_maps')
    if args.cls_label_file:
        images = list(parse_cls_label_file(args.cls_label_file).items())
    else:
        images = [(img_id, None) for img_id in read_id_list(args.ann_file)]
    check_store_format(args.cam_dir, args.cam_format)
    store = CAMStore(args.cam_dir, args.cam_format, args.allow_pickle)
    check_outside_inputs(args.out_dir, {'CAM store (--cam-dir)': args.cam_dir,
                                        'saliency folder (--sal-dir)': args.sal_dir})
    refuse_other_store(args.out_dir)
    with OutputLock(args.out_dir):  # two runs into one folder would mix
        meta = osp.join(args.cam_dir, 'meta.json')  # a regenerated CAM store rewrites it
        # cam_format is this store's (the tools read it from meta.json); the source's apart
        settings = dict(cam_format='packed', version=VERSION,
                        source_cam_dir=osp.abspath(args.cam_dir),
                        source_cam_format=args.cam_format,
                        sal_dir=args.sal_dir and osp.abspath(args.sal_dir),
                        quantize=args.quantize, images=_images_digest(images),
                        cam_store=file_fingerprint(meta) if osp.isfile(meta) else None)
        if args.compress is not None:  # an uncompressed pack keeps its earlier record
            settings.update(version=VERSION_COMPRESSED, compress=args.compress,
                            level=args.level)
        ours = osp.isfile(osp.join(args.out_dir, 'meta.json'))
        extra = dict(num_images=len(images), list=osp.abspath(args.cls_label_file or args.ann_file))
        # what each pack was made from: a rerun repacks the images whose source
        # CAMs or saliency map changed since, and the readers name a stale pack
        sources = {} if args.force else _recorded_sources(args.out_dir)
        guard_output_dir(args.out_dir, settings, args.force, extra=dict(extra, sources=sources))
        if args.force and ours:
            listed = {img_id for img_id, _ in images}
            removed = [p for p in glob.glob(osp.join(glob.escape(args.out_dir), '*' + SUFFIX))
                       if osp.basename(p)[:-len(SUFFIX)] not in listed]
            for p in removed:
                os.remove(p)
            if removed:
                print(f'{len(removed)} pack(s) of images not listed now removed')
        jobs = [(img_id, cls, packed_path(args.out_dir, img_id),
                 files_signature(source_files(store, img_id, cls,
                                              _sal_path(args.sal_dir, img_id))))
                for img_id, cls in images]
        all_sources = [j[3] for j in jobs]
        done = [j for j in jobs if not args.force and is_done(j[2])]
        changed = [j for j in done if j[0] in sources and sources[j[0]] != j[3]]
        unrecorded = [j for j in done if j[0] not in sources]  # packed by an older pack_maps
        redo = {j[0] for j in changed + unrecorded}
        jobs = [j for j in jobs if args.force or not is_done(j[2]) or j[0] in redo]
        skipped = len(images) - len(jobs)
        desc = 'packing maps' + (f' ({skipped} already packed)' if skipped else '')
        written = sum(track_parallel(_pack, jobs, nproc=args.nproc, desc=desc,
                                     initializer=partial(_init, store, args.sal_dir,
                                                         args.quantize, args.compress,
                                                         args.level)))
        listed = {img_id for img_id, _ in images}
        sources = {k: v for k, v in sources.items() if k in listed}
        sources.update((j[0], j[3]) for j in jobs)
        guard_output_dir(args.out_dir, settings, True, extra=dict(extra, sources=sources))
        notes = [f'{written / len(jobs) / 1024:.0f} KiB an image'] if jobs else []
        notes += [f'{len(changed)} repacked: their source maps changed since'] if changed else []
        notes += [f'{len(unrecorded)} repacked: no record of their sources'] if unrecorded \
            else []
        notes = f' ({"; ".join(notes)})' if notes else ''
        print(f'{len(jobs)} images packed{notes}, {skipped} kept, in {args.out_dir}')
        print(size_report(args.out_dir, images, all_sources))


if __name__ == '__main__':
    from mmwsss.cli import run_tool
    run_tool(main)
