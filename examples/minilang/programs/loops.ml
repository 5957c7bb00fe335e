# loops.ml: the Mandelbrot set in ASCII, a nested float loop.  For each
# character cell, iterate z = z * z + c (z and c complex, kept as pairs of
# floats) until |z| > 2 or the iteration limit; the count picks the
# character.  Also prints the total number of iterations and a float sum.
# arg 0: columns (default 72), arg 1: iteration limit (default 250).
var width = arg(0, 72);
var limit = arg(1, 250);
var height = width / 3;
var shades = " .:-=+*#%@";
var total = 0;
var area = 0.0;
var row = 0;
while row < height {
    var ci = 2.4 * row / height - 1.2;
    var line = "";
    var col = 0;
    while col < width {
        var cr = 3.0 * col / width - 2.1;
        var zr = 0.0;
        var zi = 0.0;
        var zr2 = 0.0;
        var zi2 = 0.0;
        var k = 0;
        while k < limit and zr2 + zi2 <= 4.0 {
            zi = 2.0 * zr * zi + ci;
            zr = zr2 - zi2 + cr;
            zr2 = zr * zr;
            zi2 = zi * zi;
            k = k + 1;
        }
        total = total + k;
        if k == limit {
            line = line + "@";
            area = area + 7.2 / (width * height);
        } else {
            line = line + shades[k % 9];
        }
        col = col + 1;
    }
    print(line);
    row = row + 1;
}
print("iterations:", total);
print("area:", area);
