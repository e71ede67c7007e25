# The demo moved beside the library: demo/wsss_demo.py (`make demo`). This name
# keeps working for those who learnt it.
import os.path as osp
import runpy
import sys

if __name__ == '__main__':
    print('tools/demo.py moved to demo/wsss_demo.py', file=sys.stderr)
    runpy.run_path(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'demo',
                           'wsss_demo.py'), run_name='__main__')
