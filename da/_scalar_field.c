/* The BLS12-381 scalar field work of the lean cell verifier (da/lean_verifier.py) and of the 2D
 * extension (da/extension.py, da/recovery2d.py), natively.
 *
 * The universal verification equation of verify_cell_kzg_proof_batch needs the polynomial
 *     sum_k r^k I_k(X),  I_k interpolating cell k over its column's coset,
 * as 64 coefficients. In Python integers that is about 30k modular multiplications for 169 cells
 * (95 inverse FFTs of size 64), a third of the verifier's time; here it is well under a
 * millisecond. Every group operation stays in arkworks; this module only does field arithmetic.
 *
 * The 2D extension combines cells of one column: extended cell i = sum_k M[i][k] * cell k,
 * element by element (combine_cells), or, the rows sitting at consecutive x, by forward differences
 * (extend_cells); column recovery is the same product with Lagrange coefficients over the rows
 * present.
 *
 * Representation: 4 little-endian 64-bit limbs. Values read from cells and returned are plain
 * (canonical, < p); constants (powers of r, twiddles, coset factors) are passed in Montgomery form
 * (x * 2^256 mod p, from to_montgomery), so one Montgomery product of a plain value and a constant
 * is the plain product: mont(a, bR) = a * b.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t limb;
typedef unsigned __int128 wide;
typedef struct { limb v[4]; } fr;

enum {
    BYTES = 32,
    CELL_ELEMENTS = 64,
    CELL_BYTES = CELL_ELEMENTS * BYTES,
    COLUMNS = 128,
    HALF = CELL_ELEMENTS / 2,
};

/* p = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001 */
static const fr P = {{0xffffffff00000001ULL, 0x53bda402fffe5bfeULL, 0x3339d80809a1d805ULL,
                      0x73eda753299d7d48ULL}};
static limb P_INV;   /* -p^-1 mod 2^64, set at import */
static fr R_SQUARED; /* 2^512 mod p, set at import */

static int fr_geq_p(const fr *a) {
    for (int i = 3; i >= 0; i--) {
        if (a->v[i] != P.v[i]) return a->v[i] > P.v[i];
    }
    return 1;
}

static void fr_sub_p(fr *a) {
    limb borrow = 0;
    for (int i = 0; i < 4; i++) {
        wide d = (wide)a->v[i] - P.v[i] - borrow;
        a->v[i] = (limb)d;
        borrow = (limb)(d >> 64) & 1;
    }
}

/* a + b for a, b < p (the sum fits: p < 2^255). */
static void fr_add(fr *out, const fr *a, const fr *b) {
    limb carry = 0;
    for (int i = 0; i < 4; i++) {
        wide s = (wide)a->v[i] + b->v[i] + carry;
        out->v[i] = (limb)s;
        carry = (limb)(s >> 64);
    }
    if (fr_geq_p(out)) fr_sub_p(out);
}

/* a - b for a, b < p. */
static void fr_sub(fr *out, const fr *a, const fr *b) {
    limb borrow = 0;
    for (int i = 0; i < 4; i++) {
        wide d = (wide)a->v[i] - b->v[i] - borrow;
        out->v[i] = (limb)d;
        borrow = (limb)(d >> 64) & 1;
    }
    if (borrow) {
        limb carry = 0;
        for (int i = 0; i < 4; i++) {
            wide s = (wide)out->v[i] + P.v[i] + carry;
            out->v[i] = (limb)s;
            carry = (limb)(s >> 64);
        }
    }
}

/* a * b / 2^256 mod p (Montgomery product, CIOS) for a, b < p. */
static void fr_mont(fr *out, const fr *a, const fr *b) {
    limb t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        limb carry = 0;
        for (int j = 0; j < 4; j++) {
            wide s = (wide)a->v[j] * b->v[i] + t[j] + carry;
            t[j] = (limb)s;
            carry = (limb)(s >> 64);
        }
        wide s = (wide)t[4] + carry;
        t[4] = (limb)s;
        t[5] = (limb)(s >> 64);
        limb m = t[0] * P_INV;
        s = (wide)m * P.v[0] + t[0];
        carry = (limb)(s >> 64);
        for (int j = 1; j < 4; j++) {
            s = (wide)m * P.v[j] + t[j] + carry;
            t[j - 1] = (limb)s;
            carry = (limb)(s >> 64);
        }
        s = (wide)t[4] + carry;
        t[3] = (limb)s;
        t[4] = t[5] + (limb)(s >> 64);
    }
    fr r = {{t[0], t[1], t[2], t[3]}};
    if (t[4] || fr_geq_p(&r)) fr_sub_p(&r);
    *out = r;
}

static void read_le(fr *out, const unsigned char *bytes) {
    for (int i = 0; i < 4; i++) {
        limb x = 0;
        for (int k = 7; k >= 0; k--) x = (x << 8) | bytes[8 * i + k];
        out->v[i] = x;
    }
}

static void read_be(fr *out, const unsigned char *bytes) {
    for (int i = 0; i < 4; i++) {
        limb x = 0;
        const unsigned char *word = bytes + BYTES - 8 * (i + 1);
        for (int k = 0; k < 8; k++) x = (x << 8) | word[k];
        out->v[i] = x;
    }
}

static void write_be(unsigned char *bytes, const fr *a) {
    for (int i = 0; i < 4; i++) {
        unsigned char *word = bytes + BYTES - 8 * (i + 1);
        for (int k = 0; k < 8; k++) word[k] = (unsigned char)(a->v[i] >> (8 * (7 - k)));
    }
}

static void write_le(unsigned char *bytes, const fr *a) {
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 8; k++) bytes[8 * i + k] = (unsigned char)(a->v[i] >> (8 * k));
    }
}

/* Reads `count` canonical little-endian elements; -1 (ValueError set) at the first that is not. */
static int read_canonical_le(fr *out, const unsigned char *bytes, Py_ssize_t count, const char *what) {
    for (Py_ssize_t i = 0; i < count; i++) {
        read_le(&out[i], bytes + BYTES * i);
        if (fr_geq_p(&out[i])) {
            PyErr_Format(PyExc_ValueError, "%s %zd is not a canonical field element", what, i);
            return -1;
        }
    }
    return 0;
}

static PyObject *to_montgomery(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer values;
    if (!PyArg_ParseTuple(args, "y*", &values)) return NULL;
    PyObject *result = NULL;
    fr *elements = NULL;
    if (values.len % BYTES != 0) {
        PyErr_SetString(PyExc_ValueError, "values must be 32-byte little-endian field elements");
        goto done;
    }
    Py_ssize_t count = values.len / BYTES;
    elements = PyMem_Malloc(sizeof(fr) * (count ? count : 1));
    if (elements == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (read_canonical_le(elements, values.buf, count, "value") < 0) goto done;
    result = PyBytes_FromStringAndSize(NULL, values.len);
    if (result == NULL) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < count; i++) {
        fr m;
        fr_mont(&m, &elements[i], &R_SQUARED);
        write_le(out + BYTES * i, &m);
    }
done:
    PyMem_Free(elements);
    PyBuffer_Release(&values);
    return result;
}

/* In place: the inverse FFT (unscaled) of 64 values given in bit-reversed order, natural order out;
 * decimation in time, `twiddles[m]` = w_64^-m in Montgomery form. */
static void inverse_fft(fr *a, const fr *twiddles) {
    for (int i = 0; i < CELL_ELEMENTS; i += 2) {
        fr even = a[i];
        fr_add(&a[i], &even, &a[i + 1]);
        fr_sub(&a[i + 1], &even, &a[i + 1]);
    }
    for (int size = 4; size <= CELL_ELEMENTS; size *= 2) {
        int half = size / 2, step = CELL_ELEMENTS / size;
        for (int start = 0; start < CELL_ELEMENTS; start += size) {
            for (int k = 0; k < half; k++) {
                fr even = a[start + k], odd;
                fr_mont(&odd, &a[start + k + half], &twiddles[k * step]);
                fr_add(&a[start + k], &even, &odd);
                fr_sub(&a[start + k + half], &even, &odd);
            }
        }
    }
}

static PyObject *interpolate_cells(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer cells, columns, powers, twiddles, unshift;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*", &cells, &columns, &powers, &twiddles, &unshift)) return NULL;
    PyObject *result = NULL;
    fr *sums = NULL;
    unsigned char touched[COLUMNS] = {0};
    fr twiddle[HALF];
    fr coefficients[CELL_ELEMENTS];
    Py_ssize_t count = columns.len;
    const unsigned char *column_of = columns.buf;
    if (cells.len != count * CELL_BYTES || powers.len != count * BYTES) {
        PyErr_SetString(PyExc_ValueError, "one 2048-byte cell and one 32-byte power per column index");
        goto done;
    }
    if (twiddles.len != HALF * BYTES || unshift.len != COLUMNS * CELL_ELEMENTS * BYTES) {
        PyErr_SetString(PyExc_ValueError, "twiddles: 32 elements; unshift: 128 x 64 elements");
        goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        if (column_of[k] >= COLUMNS) {
            PyErr_Format(PyExc_ValueError, "cell index %d is not below %d", column_of[k], COLUMNS);
            goto done;
        }
    }
    sums = PyMem_Calloc(COLUMNS * CELL_ELEMENTS, sizeof(fr));
    if (sums == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *cell_bytes = cells.buf;
    /* Cells of one column share a coset: combine their evaluations (weighted by r^k) first. */
    for (Py_ssize_t k = 0; k < count; k++) {
        fr power;
        read_le(&power, (const unsigned char *)powers.buf + BYTES * k);
        fr *into = &sums[column_of[k] * CELL_ELEMENTS];
        touched[column_of[k]] = 1;
        for (int t = 0; t < CELL_ELEMENTS; t++) {
            fr value, scaled;
            read_be(&value, cell_bytes + (Py_ssize_t)CELL_BYTES * k + BYTES * t);
            if (fr_geq_p(&value)) {
                PyErr_Format(PyExc_ValueError, "cell %zd holds a field element that is not canonical", k);
                goto done;
            }
            fr_mont(&scaled, &value, &power);
            fr_add(&into[t], &into[t], &scaled);
        }
    }
    for (int m = 0; m < HALF; m++) read_le(&twiddle[m], (const unsigned char *)twiddles.buf + BYTES * m);
    memset(coefficients, 0, sizeof coefficients);
    const unsigned char *unshift_bytes = unshift.buf;
    for (int c = 0; c < COLUMNS; c++) {
        if (!touched[c]) continue;
        fr *values = &sums[c * CELL_ELEMENTS];
        inverse_fft(values, twiddle);
        for (int j = 0; j < CELL_ELEMENTS; j++) {
            fr factor, term;
            read_le(&factor, unshift_bytes + ((Py_ssize_t)c * CELL_ELEMENTS + j) * BYTES);
            fr_mont(&term, &values[j], &factor);
            fr_add(&coefficients[j], &coefficients[j], &term);
        }
    }
    result = PyBytes_FromStringAndSize(NULL, CELL_ELEMENTS * BYTES);
    if (result == NULL) goto done;
    for (int j = 0; j < CELL_ELEMENTS; j++) {
        write_le((unsigned char *)PyBytes_AS_STRING(result) + BYTES * j, &coefficients[j]);
    }
done:
    PyMem_Free(sums);
    PyBuffer_Release(&cells);
    PyBuffer_Release(&columns);
    PyBuffer_Release(&powers);
    PyBuffer_Release(&twiddles);
    PyBuffer_Release(&unshift);
    return result;
}

/* out[n] = sum_k coefficients[n][k] * cells[k], element by element: cells are K cells of 64
 * big-endian canonical elements, coefficients N x K little-endian elements in Montgomery form (row
 * n first), the result N cells in the cell layout. */
static PyObject *combine_cells(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer cells, coefficients;
    if (!PyArg_ParseTuple(args, "y*y*", &cells, &coefficients)) return NULL;
    PyObject *result = NULL;
    fr *values = NULL, *factors = NULL;
    if (cells.len == 0 || cells.len % CELL_BYTES != 0) {
        PyErr_SetString(PyExc_ValueError, "cells must be one or more 2048-byte cells");
        goto done;
    }
    Py_ssize_t inputs = cells.len / CELL_BYTES;
    if (coefficients.len % (BYTES * inputs) != 0) {
        PyErr_Format(PyExc_ValueError, "coefficients must be rows of %zd 32-byte elements", inputs);
        goto done;
    }
    Py_ssize_t outputs = coefficients.len / (BYTES * inputs);
    values = PyMem_Malloc(sizeof(fr) * inputs * CELL_ELEMENTS);
    factors = PyMem_Malloc(sizeof(fr) * (outputs > 0 ? outputs * inputs : 1));
    if (values == NULL || factors == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *cell_bytes = cells.buf;
    for (Py_ssize_t k = 0; k < inputs * CELL_ELEMENTS; k++) {
        read_be(&values[k], cell_bytes + BYTES * k);
        if (fr_geq_p(&values[k])) {
            PyErr_Format(PyExc_ValueError, "cell %zd holds a field element that is not canonical",
                         k / CELL_ELEMENTS);
            goto done;
        }
    }
    if (read_canonical_le(factors, coefficients.buf, outputs * inputs, "coefficient") < 0) goto done;
    result = PyBytes_FromStringAndSize(NULL, outputs * CELL_BYTES);
    if (result == NULL) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (Py_ssize_t n = 0; n < outputs; n++) {
        fr sums[CELL_ELEMENTS];
        memset(sums, 0, sizeof sums);
        for (Py_ssize_t k = 0; k < inputs; k++) {
            const fr *factor = &factors[n * inputs + k];
            const fr *cell = &values[k * CELL_ELEMENTS];
            for (int t = 0; t < CELL_ELEMENTS; t++) {
                fr term;
                fr_mont(&term, &cell[t], factor);
                fr_add(&sums[t], &sums[t], &term);
            }
        }
        for (int t = 0; t < CELL_ELEMENTS; t++) write_be(out + n * CELL_BYTES + BYTES * t, &sums[t]);
    }
done:
    PyMem_Free(values);
    PyMem_Free(factors);
    PyBuffer_Release(&cells);
    PyBuffer_Release(&coefficients);
    return result;
}

/* The 2D extension of one column when every scale s_i is 1: from the K cells at x = 0..K-1 (rows
 * of the column polynomial Q, element by element) the K cells Q(K), ..., Q(2K-1), by forward
 * differences: K^2/2 subtractions to take the last entry of each order of the difference table,
 * then K - 1 additions per extended cell. No multiplication, so ~10x cheaper than combine_cells
 * with the extension matrix at K = 265 (the same values: both are Q at K + i). */
static PyObject *extend_cells(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer cells;
    if (!PyArg_ParseTuple(args, "y*", &cells)) return NULL;
    PyObject *result = NULL;
    fr *table = NULL, *diagonal = NULL;
    if (cells.len == 0 || cells.len % CELL_BYTES != 0) {
        PyErr_SetString(PyExc_ValueError, "cells must be one or more 2048-byte cells");
        goto done;
    }
    Py_ssize_t count = cells.len / CELL_BYTES;
    table = PyMem_Malloc(sizeof(fr) * count * CELL_ELEMENTS);
    diagonal = PyMem_Malloc(sizeof(fr) * count * CELL_ELEMENTS);
    if (table == NULL || diagonal == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *cell_bytes = cells.buf;
    for (Py_ssize_t k = 0; k < count * CELL_ELEMENTS; k++) {
        read_be(&table[k], cell_bytes + BYTES * k);
        if (fr_geq_p(&table[k])) {
            PyErr_Format(PyExc_ValueError, "cell %zd holds a field element that is not canonical",
                         k / CELL_ELEMENTS);
            goto done;
        }
    }
    /* diagonal[count - 1 - j] = (Delta^j Q)(count - 1 - j): highest order first. */
    for (Py_ssize_t j = 0; j < count; j++) {
        Py_ssize_t length = count - j;
        memcpy(&diagonal[(count - 1 - j) * CELL_ELEMENTS], &table[(length - 1) * CELL_ELEMENTS],
               sizeof(fr) * CELL_ELEMENTS);
        for (Py_ssize_t m = 0; m + 1 < length; m++) {
            for (int t = 0; t < CELL_ELEMENTS; t++) {
                fr_sub(&table[m * CELL_ELEMENTS + t], &table[(m + 1) * CELL_ELEMENTS + t],
                       &table[m * CELL_ELEMENTS + t]);
            }
        }
    }
    result = PyBytes_FromStringAndSize(NULL, count * CELL_BYTES);
    if (result == NULL) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < count; i++) {
        /* Step every order one x to the right: a running sum from the (constant) highest order. */
        for (Py_ssize_t j = 1; j < count; j++) {
            for (int t = 0; t < CELL_ELEMENTS; t++) {
                fr_add(&diagonal[j * CELL_ELEMENTS + t], &diagonal[j * CELL_ELEMENTS + t],
                       &diagonal[(j - 1) * CELL_ELEMENTS + t]);
            }
        }
        for (int t = 0; t < CELL_ELEMENTS; t++) {
            write_be(out + i * CELL_BYTES + BYTES * t, &diagonal[(count - 1) * CELL_ELEMENTS + t]);
        }
    }
done:
    PyMem_Free(table);
    PyMem_Free(diagonal);
    PyBuffer_Release(&cells);
    return result;
}

static PyMethodDef methods[] = {
    {"to_montgomery", to_montgomery, METH_VARARGS,
     "to_montgomery(values: bytes) -> bytes\n\n"
     "Each 32-byte little-endian canonical element x as x * 2^256 mod p (the form interpolate_cells\n"
     "takes its constants in); ValueError for a length not a multiple of 32 or a value >= p."},
    {"interpolate_cells", interpolate_cells, METH_VARARGS,
     "interpolate_cells(cells, columns, powers, twiddles, unshift) -> bytes\n\n"
     "The 64 coefficients (32-byte little-endian, canonical) of sum_k powers[k] * I_k(X), I_k the\n"
     "polynomial of degree < 64 taking cell k's values (64 big-endian elements, the cell layout) at\n"
     "its column's coset: cells concatenated, one column byte per cell, powers, the inverse FFT's\n"
     "twiddles w_64^-m (m < 32) and unshift[c][j] = h_c^-j / 64 in Montgomery form. ValueError for\n"
     "a value that is not canonical, a column >= 128 or inconsistent lengths."},
    {"combine_cells", combine_cells, METH_VARARGS,
     "combine_cells(cells, coefficients) -> bytes\n\n"
     "N cells, cell n = sum_k coefficients[n][k] * cells[k] element by element: cells are K\n"
     "2048-byte cells (64 big-endian canonical elements), coefficients N x K 32-byte little-endian\n"
     "elements in Montgomery form (to_montgomery), row n first. ValueError for no cells, a value\n"
     "that is not canonical or a coefficient length that is not a multiple of 32 K."},
    {"extend_cells", extend_cells, METH_VARARGS,
     "extend_cells(cells) -> bytes\n\n"
     "The K cells Q(K), ..., Q(2K-1) of a column from its K cells Q(0), ..., Q(K-1) (2048-byte\n"
     "cells of 64 big-endian canonical elements, element by element; Q of degree < K), by forward\n"
     "differences. ValueError for no cells, a length not a multiple of 2048 or a value that is not\n"
     "canonical."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "da._scalar_field",
    "Native BLS12-381 scalar field arithmetic for the lean cell verifier and the 2D extension.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scalar_field(void) {
    /* -p^-1 mod 2^64 by Newton's iteration (each step doubles the correct low bits). */
    limb inverse = 1;
    for (int i = 0; i < 6; i++) inverse *= 2 - P.v[0] * inverse;
    P_INV = (limb)0 - inverse;
    /* 2^512 mod p by doubling 1 512 times. */
    fr x = {{1, 0, 0, 0}};
    for (int i = 0; i < 512; i++) fr_add(&x, &x, &x);
    R_SQUARED = x;
    return PyModule_Create(&module);
}
