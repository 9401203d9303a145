# A PNG signature and IHDR chunk, then compressed (binary) bytes: not text at all.
{ printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\020\000\000\000\020\010\006\000\000\000'
  seq 1 20000 | gzip -n -9; } > photo.png
