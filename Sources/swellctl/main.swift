print("swellctl")
