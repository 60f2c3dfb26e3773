# SPDX-License-Identifier: GPL-3.0-or-later
import threading
import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr
from gnuradio.semanticnn import image_source

from grutil import meta


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    return cond()


def status(accounted, done):
    d = pmt.dict_add(pmt.make_dict(), pmt.intern("accounted"), pmt.from_long(accounted))
    return pmt.dict_add(d, pmt.intern("done"), pmt.from_bool(done))


def test_sends_images_and_labels_and_ends_on_done(test_split):
    images, labels = test_split
    src = image_source(n_images=5, start_index=10, window=0)
    tb = gr.top_block()
    out, lab = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect(src, "out", out, "store")
    tb.msg_connect(src, "labels", lab, "store")
    tb.start()
    assert wait_for(lambda: out.num_messages() == 5 and lab.num_messages() == 5)
    for i in range(5):
        img, l = out.get_message(i), lab.get_message(i)
        assert meta(img) == {"seq": i}
        np.testing.assert_array_equal(np.asarray(pmt.u8vector_elements(pmt.cdr(img))),
                                      images[10 + i].reshape(-1))
        assert meta(l) == {"seq": i, "label": labels[10 + i], "n_images": 5}
    src._post(pmt.intern("status"), status(5, True))
    done = threading.Event()
    threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True).start()
    assert done.wait(10), "flowgraph did not end after the done status"


def test_window_limits_images_in_flight():
    src = image_source(n_images=6, window=2)
    tb = gr.top_block()
    out = blocks.message_debug()
    tb.msg_connect(src, "out", out, "store")
    tb.start()
    assert wait_for(lambda: out.num_messages() == 2)
    time.sleep(0.3)
    assert out.num_messages() == 2
    src._post(pmt.intern("status"), status(2, False))
    assert wait_for(lambda: out.num_messages() == 4)
    tb.stop()
    tb.wait()


@pytest.mark.parametrize("kwargs,match", [({"n_images": 0}, "n_images"),
                                          ({"n_images": 10, "start_index": 9995}, "10000"),
                                          ({"window": -1}, "window")])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_source(**kwargs)
