# early_return.ml: returns from inside hot loops: the first square above
# a bound, searched for with nested loops.
func first_square_above(bound) {
    var i = 0;
    while 1 {
        var j = 0;
        while j <= i {
            if j * j > bound {
                return j;
            }
            j = j + 1;
        }
        i = i + 1;
    }
}

var found = "";
var n = 1;
while n < 5000 {
    found = found + str(first_square_above(n)) + " ";
    n = n * 3;
}
print(found);
