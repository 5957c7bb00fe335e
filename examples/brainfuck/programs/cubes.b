cubes: the cubes of 1 to n modulo 256 as three digit decimal numbers
one per line; n is the code of the input's first character
(input "d" is n = 100) and the work grows like n to the fourth:
each cube is computed by repeated addition in nested loops
(a times a times a with no multiplication) and printed through
two rounds of division by ten done by counting

Cells: 0 n left  1 a  2 loop count  3 square  4 spare  5 cube
       6 dividend  7 countdown from ten  8 quotient  9 remainder
       10 flag  11 spare  12 units digit  13 spare for adding 48

Every comment here avoids the eight command characters

,                                   read n into cell 0
[                                   for each a from 1 to n
 >+                                 a is one more
 [->+>>+<<<]>>>[-<<<+>>>]<<<        copy a into cell 2 (through cell 4)
 >[-<[->>+>+<<<]>>>[-<<<+>>>]<<]    a times: add a to the square
 <[->+>>+<<<]>>>[-<<<+>>>]<<        copy a into cell 2 again
 [->[->>+<+<]>[-<+>]<<]             a times: add the square to the cube
 >[-]                               forget the square
 >>[->+<]>                          the cube is the dividend
 >++++++++++<                       count down from ten
 [                                  divide by ten: for each unit
  ->>>+<<-                          one less in the dividend; remainder up; countdown down
  >>>+<<<                           flag up
  [->>>>+<<<<]>>>>[-<<<<+>>>[-]>]   flag down unless the countdown is zero
  <[-<<<++++++++++>>[-]<+>>]        if it is zero: ten again; remainder zero; quotient up
  <<<<
 ]
 >[-]                               forget the countdown
 >>[->>>+<<<]                       keep the units digit in cell 12
 <[-<<+>>]<<                        the quotient is the next dividend
 >++++++++++<                       count down from ten
 [->>>+<<->>>+<<<[->>>>+<<<<]>>>>[-<<<<+>>>[-]>]<[-<<<++++++++++>>[-]<+>>]<<<<]
 >[-]                               the same division again: hundreds in 8 and tens in 9
 >>>>>>++++++[-<<<<<++++++++>>>>>]<<<<<.[-]   print the hundreds digit
 >>>>>++++++[-<<<<++++++++>>>>]<<<<.[-]       print the tens digit
 >>>>++++++[-<++++++++>]<.[-]                 print the units digit
 >++++++++++.[-]                              print a newline
 <<<<<<<<<<<<<-                     back to n: one fewer left
]
