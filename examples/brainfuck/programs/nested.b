Deep nesting: seven loops inside each other (three rounds each
and two at the innermost) add to one cell 3 to the 6 times 2 = 1458 times
so it ends at 1458 modulo 256 = 178; the innermost loop is the hot one
but every level exits and reenters; then prints letters counted down from it

+++[>+++[>+++[>+++[>+++[>+++[>++[>+<-]<-]<-]<-]<-]<-]<-]
>>>>>>>                 the count cell (178)
>++++++++++++[<--------->-]<   subtract 108 leaving 70: F
.                       F
++++++.                 L
>+++[<+>-]<.            O
