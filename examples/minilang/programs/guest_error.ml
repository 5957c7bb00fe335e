# guest_error.ml: a division by zero in a hot loop, after 2999 good
# iterations (the divisor counts down to 0).
var x = 1000000;
var i = 0;
var sum = 0;
while i < 5000 {
    sum = sum + x / (2999 - i);
    i = i + 1;
}
print(sum);
