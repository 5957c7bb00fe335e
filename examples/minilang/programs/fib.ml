# fib.ml: Fibonacci numbers by naive recursion (fib(n) makes about
# 2.6 * 1.618^n calls).  arg 0: the largest n (default 25).
func fib(n) {
    if n < 2 {
        return n;
    }
    return fib(n - 1) + fib(n - 2);
}

var n = arg(0, 25);
var i = 0;
while i <= n {
    if i % 5 == 0 or i == n {
        print("fib(" + str(i) + ") =", fib(i));
    }
    i = i + 1;
}
