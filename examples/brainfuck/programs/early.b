Leaving hot loops early: the first loop echoes the input until its
first zero (a NUL character or the end of the input); the second fills
cells with 60 down to 1 and then scans back left to the zero in front
of them with the loop that stops at the first zero cell; it prints
the first cell of the run plus 4 (the character 64)

,[.,]                                  echo until the end of the input
>>++++++++++[<++++++>-]<               cell 1 is 60
[[->+>+<<]>>[-<<+>>]<-]                copy it to the right counting down to 1
<[<]>                                  scan back to the first cell of the run
++++.                                  print it plus 4: 64 is @
