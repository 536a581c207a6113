# One-off: independent known-answer values for softkey's Secret Service
# session (dh-ietf1024-sha256-aes128-cbc-pkcs7). RFC 2409 §6.2 group 2 prime.
import hashlib, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import padding
P = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
        "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
        "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"
        "FFFFFFFFFFFFFFFF", 16)
g = 2
def hkdf16(ikm):
    prk = hmac.new(b"\0"*32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, b"\x01", hashlib.sha256).digest()[:16]
b = lambda n: n.to_bytes(128, "big")
x = int.from_bytes(hashlib.sha256(b"softkey client").digest()*4, "big") >> 1
y = int.from_bytes(hashlib.sha256(b"softkey service").digest()*4, "big") >> 1
X, Y = pow(g, x, P), pow(g, y, P)
s = pow(Y, x, P); assert s == pow(X, y, P)
print("x", b(x).hex()); print("X", b(X).hex()); print("Y", b(Y).hex()); print("s", b(s).hex())
k = hkdf16(b(s)); print("key", k.hex())
iv = bytes(range(16)); pt = bytes(range(32))
pd = padding.PKCS7(128).padder(); m = pd.update(pt) + pd.finalize()
e = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor(); ct = e.update(m) + e.finalize()
print("ct", ct.hex())
# A service key whose shared secret starts with a zero byte: padded to 128 bytes.
for i in range(1, 100000):
    yy = y + i
    ss = pow(pow(g, yy, P), x, P)
    if ss < 1 << 1016:
        print("i", i, "Y0", b(pow(g, yy, P)).hex()); print("s0", b(ss).hex()); print("key0", hkdf16(b(ss)).hex()); break
