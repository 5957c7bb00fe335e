# strings.ml: building strings by concatenation, reading them back by
# index: repeat, reverse, a Caesar cipher by table look-up, counting and
# naive substring search.  arg 0: how many times the text is repeated
# (default 40).
func repeat(s, n) {
    var out = "";
    var k = 0;
    while k < n {
        out = out + s;
        k = k + 1;
    }
    return out;
}

func reverse(s) {
    var out = "";
    var k = len(s) - 1;
    while k >= 0 {
        out = out + s[k];
        k = k - 1;
    }
    return out;
}

func position(s, c) {
    var k = 0;
    while k < len(s) {
        if s[k] == c {
            return k;
        }
        k = k + 1;
    }
    return -1;
}

func caesar(s, shift) {
    var letters = "abcdefghijklmnopqrstuvwxyz";
    var out = "";
    var k = 0;
    while k < len(s) {
        var p = position(letters, s[k]);
        if p < 0 {
            out = out + s[k];
        } else {
            out = out + letters[(p + shift) % 26];
        }
        k = k + 1;
    }
    return out;
}

func count(s, c) {
    var n = 0;
    var k = 0;
    while k < len(s) {
        if s[k] == c {
            n = n + 1;
        }
        k = k + 1;
    }
    return n;
}

func find(s, sub, start) {
    var k = start;
    while k + len(sub) <= len(s) {
        var j = 0;
        while j < len(sub) and s[k + j] == sub[j] {
            j = j + 1;
        }
        if j == len(sub) {
            return k;
        }
        k = k + 1;
    }
    return -1;
}

var times = arg(0, 40);
var text = repeat("the quick brown fox jumps over the lazy dog. ", times);
var secret = caesar(text, 13);
print(len(text), "characters,", count(text, "o"), "o,", count(secret, "b"), "b");
print(secret[0] + secret[1] + secret[2] + "...");
print(reverse(caesar(secret, 13))[1] == ".");
var hits = 0;
var at = find(text, "lazy", 0);
var where = "";
while at >= 0 {
    hits = hits + 1;
    if hits <= 5 {
        where = where + str(at) + " ";
    }
    at = find(text, "lazy", at + 1);
}
print("lazy at", where + "...", hits, "times");
var numbers = "";
var i = 0;
while i < 10 * times {
    numbers = numbers + str(i * i) + ",";
    i = i + 1;
}
print(len(numbers), numbers[len(numbers) - 4] + numbers[len(numbers) - 3]);
