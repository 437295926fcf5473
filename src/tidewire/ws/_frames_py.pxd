# cython: language_level=3
# C types for _frames_py.py when Cython compiles it into tidewire.ws._frames_c
# (an augmenting .pxd: the .py stays plain Python, this file only adds types).
cimport cython


cdef int _PROTOCOL_ERROR, _INVALID_DATA, _TOO_BIG
cdef int _CONT, _TEXT, _BINARY, _CLOSE, _PING, _PONG
cdef int _FIN, _RSV1, _RSV23, _MASK
cdef object _PACK_16, _PACK_64

cdef bint _close_code_valid(int code)

cdef bytes _unmask(bytes data, Py_ssize_t start, Py_ssize_t n, bytes key, Py_ssize_t phase)

cdef void _xor_into(unsigned char* dst, bytes data, Py_ssize_t start, Py_ssize_t n,
                    bytes key, Py_ssize_t phase) noexcept

cdef bytes _header(int b0, Py_ssize_t n, int mask_bit)


@cython.final
cdef class Engine:
    cdef bytes _buf
    cdef Py_ssize_t _pos
    cdef list _more
    cdef Py_ssize_t _more_len
    cdef bint _client
    cdef int _mask_bit
    cdef Py_ssize_t _max
    cdef object _inflater
    cdef object _deflater
    cdef bint _closed
    cdef bint _f_open
    cdef bint _key_wait
    cdef int _f_opcode
    cdef bint _f_fin
    cdef Py_ssize_t _f_len
    cdef Py_ssize_t _f_done
    cdef bytes _f_key
    cdef int _m_opcode
    cdef bint _m_compressed
    cdef Py_ssize_t _m_declared
    cdef bytes _tail
    cdef list _parts

    cdef _gather(self)
    cdef _release(self)

    @cython.locals(buf=bytes, pos=Py_ssize_t, avail=Py_ssize_t,
                   size=Py_ssize_t, b0=int, b1=int, opcode=int, length=Py_ssize_t,
                   fin=bint, control=bint, masked=bint, rsv1=bint)
    cdef bint _parse_header(self) except -1

    @cython.locals(pos=Py_ssize_t)
    cdef bint _read_key(self) except -1

    cdef _check_data_header(self, int opcode, bint rsv1, Py_ssize_t length)

    @cython.locals(remaining=Py_ssize_t, avail=Py_ssize_t, opcode=int)
    cdef tuple _parse_payload(self)

    @cython.locals(buf=bytes, pos=Py_ssize_t)
    cdef bytes _take(self, Py_ssize_t n)

    @cython.locals(more=list, piece=bytes, start=Py_ssize_t, done=Py_ssize_t,
                   phase=Py_ssize_t, size=Py_ssize_t)
    cdef bytes _take_spread(self, Py_ssize_t n)

    cdef _consume_partial(self, Py_ssize_t avail)

    @cython.locals(fin=bint, opcode=int)
    cdef tuple _finish_data(self, bytes payload)

    cdef str _decode(self, bytes data, bint final)

    @cython.locals(code=int)
    cdef tuple _close_payload(self, bytes payload)

    @cython.locals(n=Py_ssize_t)
    cdef bytes _frame(self, int b0, bytes payload)
