/* unxz: stdin (.xz) -> stdout, nothing else. Shipped in the QPKG's control archive and linked statically with
 * liblzma, because QTS may have no xz of its own (QDK ships one for the same reason) and its C library is too
 * old for anything built here. Exit 0 when the whole input decoded and checked, 1 otherwise. */
#include <lzma.h>
#include <stdio.h>
#include <unistd.h>

static int write_all(const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(void) {
  static uint8_t in[1 << 16], out[1 << 16];
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) return 1;
  lzma_action action = LZMA_RUN;
  for (;;) {
    if (s.avail_in == 0 && action == LZMA_RUN) {
      ssize_t r = read(0, in, sizeof in);
      if (r < 0) { perror("unxz: read"); return 1; }
      s.next_in = in;
      s.avail_in = (size_t)r;
      if (r == 0) action = LZMA_FINISH;
    }
    s.next_out = out;
    s.avail_out = sizeof out;
    lzma_ret ret = lzma_code(&s, action);
    if (write_all(out, sizeof out - s.avail_out) != 0) { perror("unxz: write"); return 1; }
    if (ret == LZMA_STREAM_END) return 0;
    if (ret != LZMA_OK) { fprintf(stderr, "unxz: corrupt or truncated input (liblzma error %d)\n", (int)ret); return 1; }
  }
}
