/* libopus's verdict on carrier packets (tests/test_carrier.py).
 * Reads records "u32be length | packet" from argv[1]; per packet prints one line:
 *   <ret> <nb_frames> <frame sizes,> | <decoded samples> <peak abs> | <frame>:<id>:<hex payload> ...
 * using opus_packet_parse_impl + opus_packet_extensions_parse (internal libopus symbols of the
 * static library, prototypes copied from src/opus_private.h of libopus 1.6.1) and opus_decode. */
#include <stdio.h>
#include <stdlib.h>
#include <opus.h>

typedef struct { int id; int frame; const unsigned char *data; opus_int32 len; } opus_extension_data;
int opus_packet_parse_impl(const unsigned char *data, opus_int32 len, int self_delimited,
      unsigned char *out_toc, const unsigned char *frames[48], opus_int16 size[48],
      int *payload_offset, opus_int32 *packet_offset, const unsigned char **padding,
      opus_int32 *padding_len);
opus_int32 opus_packet_extensions_parse(const unsigned char *data, opus_int32 len,
      opus_extension_data *extensions, opus_int32 *nb_extensions, int nb_frames);

int main(int argc, char **argv) {
   FILE *f = fopen(argv[1], "rb");
   int err;
   OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
   static unsigned char buf[1 << 16];
   static opus_int16 pcm[5760];
   unsigned char hdr[4];
   if (!f || err != OPUS_OK) return 2;
   while (fread(hdr, 1, 4, f) == 4) {
      opus_int32 len = ((opus_int32)hdr[0] << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3];
      unsigned char toc; const unsigned char *frames[48]; opus_int16 size[48];
      const unsigned char *pad = NULL; opus_int32 padlen = 0, nb = 64;
      opus_extension_data ext[64];
      int i, ret, n, peak = 0;
      if (len > (opus_int32)sizeof(buf) || fread(buf, 1, len, f) != (size_t)len) return 3;
      ret = opus_packet_parse_impl(buf, len, 0, &toc, frames, size, NULL, NULL, &pad, &padlen);
      printf("%d", ret);
      for (i = 0; i < ret; i++) printf("%s%d", i ? "," : " ", size[i]);
      n = opus_decode(dec, buf, len, pcm, 5760, 0);
      for (i = 0; i < n; i++) if (abs(pcm[i]) > peak) peak = abs(pcm[i]);
      printf(" | %d %d |", n, peak);
      if (ret > 0 && padlen > 0) {
         opus_int32 r = opus_packet_extensions_parse(pad, padlen, ext, &nb, ret);
         if (r < 0) printf(" EXTERR %d", r);
         else for (i = 0; i < nb; i++) {
            int k;
            printf(" %d:%d:", ext[i].frame, ext[i].id);
            for (k = 0; k < ext[i].len; k++) printf("%02x", ext[i].data[k]);
         }
      }
      printf("\n");
   }
   opus_decoder_destroy(dec);
   return 0;
}
