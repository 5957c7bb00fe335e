# branch_flip.ml: a branch of a hot loop goes one way 1000 times, then
# always the other way; a second one alternates.
var a = 0;
var b = 0.0;
var i = 0;
while i < 3000 {
    if i < 1000 {
        a = a + 3;
    } else {
        a = a - 1;
        b = b + 0.25;
    }
    if i % 2 == 0 {
        b = b + 1;
    }
    i = i + 1;
}
print(a, b);
