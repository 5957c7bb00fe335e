# type_change.ml: one variable of a hot loop is an int, then a float,
# then a string (and the loop still adds to it).
var total = 0;
var i = 0;
while i < 3000 {
    if i == 1000 {
        total = total + 0.5;
    }
    if i == 2000 {
        total = "n=" + str(total);
    }
    if i >= 2000 {
        total = total + "!";
    } else {
        total = total + 1;
    }
    i = i + 1;
}
print(len(total), total[0] + total[1] + total[2] + total[3] + total[4]);
print(total[len(total) - 1]);
