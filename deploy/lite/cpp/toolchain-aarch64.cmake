# Cross build for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu; OpenCV and polyclipping from the
# multiarch :arm64 packages (/usr/lib/aarch64-linux-gnu). Run the result here with
# qemu-aarch64-static -L /usr/aarch64-linux-gnu ./ocr_test_driver ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Headers are architecture-independent (/usr/include); libraries only from the aarch64 multiarch directories.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
