#!/bin/sh
# Every number in docs/guides/coming-from.md's "ImageMagick and libvips" section.
# Needs: apt-get install -y imagemagick libvips-tools; imgconv installed in the repository's .venv.
# Runs in $TMPDIR/imgconv-coming-from (recreated); prints everything to stdout. About a minute.
# ImageMagick is called as /usr/bin/convert: /usr/local/bin/convert on this machine is a stand-in.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
IC=${IC:-$REPO/.venv/bin/imgconv}
PY=${PY:-$REPO/.venv/bin/python}   # numpy and Pillow, from imgconv's venv
IM=/usr/bin/convert
IMAGES=${IMAGES:-$REPO/../shared/images}   # chelsea.png, coffee.png, camera.png
W=${TMPDIR:-/tmp}/imgconv-coming-from
rm -rf "$W"; mkdir -p "$W"; cd "$W"
cp "$IMAGES/chelsea.png" "$IMAGES/coffee.png" "$IMAGES/camera.png" .
cp "$REPO/samples/kernels/emboss.mat" .
PHOTOS="chelsea coffee camera"

# cmp.py A B MARGIN: |A - B| in 8-bit levels over the whole image and MARGIN px away from every edge.
cat > cmp.py <<'EOF'
import sys
import numpy as np
from PIL import Image
def load(p):
    im = Image.open(p)
    return im if im.mode in ("L", "RGB") else im.convert("RGB")
a, b = load(sys.argv[1]), load(sys.argv[2])
if a.mode != b.mode:
    a, b = a.convert("RGB"), b.convert("RGB")
a, b = np.asarray(a, np.int16), np.asarray(b, np.int16)
assert a.shape == b.shape, (a.shape, b.shape)
d = np.abs(a - b); m = int(sys.argv[3]); i = d[m:d.shape[0] - m, m:d.shape[1] - m]
print(f"whole max {d.max():3d} mean {d.mean():.3f} | interior max {i.max():3d} mean {i.mean():.3f} | differ {np.count_nonzero(d) / d.size:7.3%}")
EOF
# rounding.py EXACT.npy IMG...: share of samples equal to floor, round-half-up, round-half-even of the exact result.
cat > rounding.py <<'EOF'
import sys
import numpy as np
from PIL import Image
f = np.load(sys.argv[1]).astype(np.float64)
for p in sys.argv[2:]:
    a = np.asarray(Image.open(p)).astype(np.float64)
    if a.ndim == 3 and f.ndim == 2:  # a grey image written as RGB (PPM): its channels are equal
        assert (a == a[..., :1]).all(); a = a[..., 0]
    print(f"  {p:28s} floor {np.mean(a == np.floor(f)):8.4%}  half-up {np.mean(a == np.floor(f + 0.5)):8.4%}"
          f"  half-even {np.mean(a == np.round(f)):8.4%}")
EOF
c() { printf '  %-52s ' "$1"; "$PY" cmp.py "$2" "$3" "$4"; }

echo "== versions"
"$IM" -version | head -1
vips --version
"$IC" --version
"$PY" -c 'import numpy, PIL; print("numpy", numpy.__version__, "Pillow", PIL.__version__)'
for f in $PHOTOS; do "$PY" -c "from PIL import Image; i = Image.open('$f.png'); print('$f.png', i.size, i.mode)"; done

echo
echo "== 1. Gaussian blur r=5 s=3 (interior = 5 px from the edges)"
for f in $PHOTOS; do
  "$IC" blur -r 5 -s 3 -b nearest $f.png n_$f.png
  "$IC" blur -r 5 -s 3 -b nearest $f.png n_$f.npy
  "$IC" blur -r 5 -s 3 $f.png r_$f.png
  "$IM" $f.png -gaussian-blur 5x3 img_$f.png
  "$IM" $f.png -gaussian-blur 5x3 img_$f.ppm
  "$IM" $f.png -virtual-pixel mirror -gaussian-blur 5x3 imgm_$f.ppm
  "$IM" $f.png -blur 5x3 imb_$f.ppm
  vips gaussblur $f.png vgi_$f.png 3
  vips gaussblur $f.png vgf_$f.png 3 --precision float
  echo "-- $f"
  c "imgconv -b nearest  vs convert -gaussian-blur 5x3 (PNG)" n_$f.png img_$f.png 5
  c "imgconv -b nearest  vs convert -gaussian-blur 5x3 (PPM)" n_$f.png img_$f.ppm 5
  c "imgconv (reflect)   vs convert -gaussian-blur 5x3 (PPM)" r_$f.png img_$f.ppm 5
  c "imgconv (reflect)   vs convert -virtual-pixel mirror (PPM)" r_$f.png imgm_$f.ppm 5
  c "imgconv -b nearest  vs convert -blur 5x3 (PPM)" n_$f.png imb_$f.ppm 5
  c "imgconv -b nearest  vs vips gaussblur 3" n_$f.png vgi_$f.png 5
  c "imgconv -b nearest  vs vips gaussblur 3 --precision float" n_$f.png vgf_$f.png 5
  c "imgconv (reflect)   vs vips gaussblur 3 --precision float" r_$f.png vgf_$f.png 5
  echo "  rounding of the exact (imgconv .npy) result:"
  "$PY" rounding.py n_$f.npy n_$f.png img_$f.png img_$f.ppm vgf_$f.png
done

echo
echo "== 1b. Gaussian blur s=10, vips' radius 17 (interior = 17 px)"
for f in $PHOTOS; do
  "$IC" blur -r 17 -s 10 -b nearest $f.png n10_$f.png
  "$IM" $f.png -gaussian-blur 17x10 img10_$f.ppm
  vips gaussblur $f.png vgf10_$f.png 10 --precision float
  vips gaussblur $f.png vgi10_$f.png 10
  echo "-- $f"
  c "imgconv -r 17 -s 10 -b nearest vs convert -gaussian-blur 17x10 (PPM)" n10_$f.png img10_$f.ppm 17
  c "imgconv -r 17 -s 10 -b nearest vs vips gaussblur 10 --precision float" n10_$f.png vgf10_$f.png 17
  c "imgconv -r 17 -s 10 -b nearest vs vips gaussblur 10" n10_$f.png vgi10_$f.png 17
done

echo
echo "== 1c. radii chosen by the tools"
for s in 0.8 1 1.5 2 3 5 10 20; do
  vips gaussmat g.mat $s 0.2 --separable
  w=$(head -1 g.mat | cut -d' ' -f1)
  "$PY" -c "import math; print('  vips gaussblur $s (min-ampl 0.2): radius', ($w - 1) // 2, ' floor(1.794 s) =', math.floor($s * math.sqrt(2 * math.log(5))))"
done
vips gaussmat g.mat 3 0.01 --separable; echo "  vips gaussblur 3 --min-ampl 0.01: width $(head -1 g.mat | cut -d' ' -f1)"
for f in $PHOTOS; do
  "$IC" blur -s 3 -b nearest $f.png nd_$f.png
  vips gaussblur $f.png vm_$f.png 3 --min-ampl 0.01 --precision float
  c "$f: imgconv blur -s 3 -b nearest vs vips --min-ampl 0.01 float" nd_$f.png vm_$f.png 9
done
"$IM" -define morphology:showkernel=1 chelsea.png -morphology Convolve Gaussian:0x3 null: 2>&1 | grep '^Kernel' | sed 's/^/  convert -gaussian-blur 0x3: /'
"$IM" -define morphology:showkernel=1 chelsea.png -morphology Convolve Blur:0x3 null: 2>&1 | grep '^Kernel' | sed 's/^/  convert -blur 0x3: /'

echo
echo "== 2. Convolution against correlation (interior = kernel radius)"
printf '3 3 1 0\n0 -1 0\n0 1 0\n0 1 0\n' > vert.mat
printf '5 5 1 0\n0 0 0 0 0\n0 0 0 0 0\n0 0 0 0 0\n0 0 0 0 0\n0 0 0 0 1\n' > shift2.mat
printf '3 3 4 0\n1 2 0\n0 1 0\n0 0 0\n' > frac.mat
IMK_vert="0,-1,0,0,1,0,0,1,0"; IMM_vert="3x3: 0,-1,0 0,1,0 0,1,0"
IMK_shift2="0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1"; IMM_shift2="5x5: 0,0,0,0,0 0,0,0,0,0 0,0,0,0,0 0,0,0,0,0 0,0,0,0,1"
IMK_emboss="-2,-1,0,-1,1,1,0,1,2"; IMM_emboss="3x3: -2,-1,0 -1,1,1 0,1,2"
for k in emboss vert shift2; do
  m=1; [ $k = shift2 ] && m=2
  bias=0; [ $k = emboss ] && bias=50.19607843%   # emboss.mat's offset 128, as a share of the range
  eval kk=\$IMK_$k; eval km=\$IMM_$k
  for f in $PHOTOS; do
    "$IC" convolve --correlate -k $k.mat -b nearest $f.png cc_${k}_$f.png
    "$IC" convolve --correlate -k $k.mat $f.png ccr_${k}_$f.png
    "$IC" convolve -k $k.mat -b nearest $f.png cv_${k}_$f.png
    vips conv $f.png vc_${k}_$f.png $k.mat --precision float
    vips conv $f.png vci_${k}_$f.png $k.mat --precision integer
    "$IM" $f.png -define convolve:bias=$bias -convolve "$kk" imc_${k}_$f.ppm
    "$IM" $f.png -define convolve:bias=$bias -morphology Convolve "$km" imm_${k}_$f.ppm
    "$IM" $f.png -define convolve:bias=$bias -morphology Correlate "$km" imr_${k}_$f.ppm
    echo "-- $k.mat $f"
    c "convolve --correlate -b nearest vs vips conv (float)" cc_${k}_$f.png vc_${k}_$f.png $m
    c "convolve --correlate -b nearest vs vips conv (integer)" cc_${k}_$f.png vci_${k}_$f.png $m
    c "convolve --correlate (reflect)  vs vips conv (float)" ccr_${k}_$f.png vc_${k}_$f.png $m
    c "convolve -b nearest             vs vips conv (float)" cv_${k}_$f.png vc_${k}_$f.png $m
    c "convolve --correlate -b nearest vs convert -convolve" cc_${k}_$f.png imc_${k}_$f.ppm $m
    c "convolve -b nearest             vs convert -convolve" cv_${k}_$f.png imc_${k}_$f.ppm $m
    c "convolve --correlate -b nearest vs -morphology Convolve" cc_${k}_$f.png imm_${k}_$f.ppm $m
    c "convolve -b nearest             vs -morphology Convolve" cv_${k}_$f.png imm_${k}_$f.ppm $m
    c "convolve --correlate -b nearest vs -morphology Correlate" cc_${k}_$f.png imr_${k}_$f.ppm $m
  done
done
echo "-- convolution in libvips: emboss.mat turned by 180 degrees"
printf '3 3 1 128\n2 1 0\n1 1 -1\n0 -1 -2\n' > emboss180.mat
for f in $PHOTOS; do
  vips conv $f.png vc180_$f.png emboss180.mat
  c "$f: convolve -b nearest -k emboss.mat vs vips conv emboss180.mat" cv_emboss_$f.png vc180_$f.png 1
done
echo "-- rounding, frac.mat (weights in quarters: exact ties), chelsea"
"$IC" convolve --correlate -k frac.mat -b nearest chelsea.png fr.npy
"$IC" convolve --correlate -k frac.mat -b nearest chelsea.png fr_ic.png
vips conv chelsea.png fr_vf.png frac.mat --precision float
vips conv chelsea.png fr_vi.png frac.mat --precision integer
"$IM" chelsea.png -convolve "0.25,0.5,0,0,0.25,0,0,0,0" fr_im.ppm
"$IM" chelsea.png -convolve "0.25,0.5,0,0,0.25,0,0,0,0" fr_im.png
"$PY" rounding.py fr.npy fr_ic.png fr_vf.png fr_vi.png fr_im.ppm fr_im.png

echo
echo "== 3. JPEG quality and chroma subsampling (identify %Q, jpeg:sampling-factor)"
"$PY" - <<'EOF'
from PIL import Image
im = Image.open("coffee.png").convert("RGB")
im.save("q80_420.jpg", quality=80, subsampling=2)
im.save("q70_422.jpg", quality=70, subsampling=1)
im.save("q95_444.jpg", quality=95, subsampling=0)
im.save("q95_420.jpg", quality=95, subsampling=2)
im.save("custom.jpg", qtables=[[6] * 64, [10] * 64], subsampling=0)   # tables no quality setting makes
EOF
q() { identify -format '%Q %[jpeg:sampling-factor]' "$1"; }
printf '  %-12s %-22s %-22s %-22s %s\n' input "input Q, sampling" "convert -gaussian-blur" "vips gaussblur" "imgconv blur (no --quality)"
for x in coffee.png q80_420.jpg q70_422.jpg q95_444.jpg q95_420.jpg custom.jpg; do
  "$IM" $x -gaussian-blur 5x3 jim_$x.jpg
  vips gaussblur $x jvi_$x.jpg 3
  "$IC" blur -r 5 -s 3 $x jic_$x.jpg
  in=-; case $x in *.jpg) in=$(q $x) ;; esac
  printf '  %-12s %-22s %-22s %-22s %s\n' $x "$in" "$(q jim_$x.jpg)" "$(q jvi_$x.jpg)" "$(q jic_$x.jpg)"
done
for Q in 85 89 90 92; do
  "$IM" coffee.png -quality $Q jq$Q.jpg; vips copy coffee.png "jvq$Q.jpg[Q=$Q]"
  echo "  convert -quality $Q: $(q jq$Q.jpg)   vips jpegsave Q=$Q: $(q jvq$Q.jpg)"
done
"$PY" - <<'EOF'
from PIL import Image
def t(p): return {k: list(v) for k, v in Image.open(p).quantization.items()}
for x in ["q80_420.jpg", "q70_422.jpg", "q95_444.jpg", "q95_420.jpg", "custom.jpg"]:
    print(f"  {x}: quantisation tables identical in convert's output: {t(x) == t('jim_' + x + '.jpg')};"
          f" in imgconv's: {t(x) == t('jic_' + x + '.jpg')}")
EOF

echo
echo "== 4. EXIF orientation: a 451x300 JPEG stored with Orientation=6"
"$PY" - <<'EOF'
from PIL import Image
exif = Image.Exif(); exif[274] = 6
Image.open("chelsea.png").convert("RGB").save("o6.jpg", quality=90, exif=exif)
EOF
"$IM" o6.jpg -gaussian-blur 5x3 oim.jpg
"$IM" o6.jpg -gaussian-blur 5x3 oim.png
"$IM" o6.jpg -auto-orient -gaussian-blur 5x3 oim_auto.jpg
vips gaussblur o6.jpg ovi.jpg 3
vips gaussblur o6.jpg ovi.png 3
vips copy o6.jpg ovi_copy.jpg
vips autorot o6.jpg ovi_autorot.jpg
vips autorot o6.jpg oa.jpg && vips gaussblur oa.jpg ovi_autorot_blur.jpg 3
vips autorot o6.jpg oa.v && vips gaussblur oa.v ovi_autorot_v_blur.jpg 3
vips thumbnail o6.jpg ovi_thumb.jpg 1000
"$IC" blur -r 5 -s 3 o6.jpg oic.jpg
"$IC" blur -r 5 -s 3 o6.jpg oic.png
"$IC" blur -r 5 -s 3 --no-auto-orient o6.jpg oic_no.jpg
"$PY" - <<'EOF'
from PIL import Image
rows = [("o6.jpg", "input"),
        ("oim.jpg", "convert o6.jpg -gaussian-blur 5x3 out.jpg"),
        ("oim.png", "convert o6.jpg -gaussian-blur 5x3 out.png"),
        ("oim_auto.jpg", "convert o6.jpg -auto-orient -gaussian-blur 5x3 out.jpg"),
        ("ovi.jpg", "vips gaussblur o6.jpg out.jpg 3"),
        ("ovi.png", "vips gaussblur o6.jpg out.png 3"),
        ("ovi_copy.jpg", "vips copy"),
        ("ovi_autorot.jpg", "vips autorot"),
        ("ovi_autorot_blur.jpg", "vips autorot to .jpg, then gaussblur"),
        ("ovi_autorot_v_blur.jpg", "vips autorot to .v, then gaussblur"),
        ("ovi_thumb.jpg", "vips thumbnail o6.jpg out.jpg 1000"),
        ("oic.jpg", "imgconv blur -r 5 -s 3 o6.jpg out.jpg"),
        ("oic.png", "imgconv blur -r 5 -s 3 o6.jpg out.png"),
        ("oic_no.jpg", "imgconv blur -r 5 -s 3 --no-auto-orient o6.jpg out.jpg")]
for p, what in rows:
    im = Image.open(p)
    exif = im.getexif()
    print(f"  {what:58s} {im.size[0]}x{im.size[1]}  Orientation={exif.get(274, 'absent')}  EXIF tags {len(exif)}")
EOF
echo "  pixels, upright: the same JPEG decoded, turned and blurred by each tool (interior = 5 px)"
"$IC" blur -r 5 -s 3 -b nearest o6.jpg oic_n.png
"$IM" o6.jpg -auto-orient -gaussian-blur 5x3 oim_auto.ppm
vips autorot o6.jpg oa.png && vips gaussblur oa.png ovi_auto_f.png 3 --precision float
c "imgconv -b nearest vs convert -auto-orient -gaussian-blur (PPM)" oic_n.png oim_auto.ppm 5
c "imgconv -b nearest vs vips autorot, gaussblur --precision float" oic_n.png ovi_auto_f.png 5
